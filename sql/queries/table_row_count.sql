-- Row count of a warehouse table, by name.
select count(*) as n_rows from query_table($table)
