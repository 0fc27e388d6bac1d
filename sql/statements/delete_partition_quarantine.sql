delete from quarantine
where partition_key = $partition_key
