-- Lines the CSV reader rejected in the last scan (ragged rows, bad quoting); a line may carry
-- several errors.
select count(distinct line) as n from reject_errors
