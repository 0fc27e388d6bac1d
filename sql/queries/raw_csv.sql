-- Every cell of a CSV file as text, in file order; malformed lines go to reject_errors.
select *
from read_csv(
    $path,
    all_varchar = true,
    header = true,
    store_rejects = true,
    sample_size = -1
)
