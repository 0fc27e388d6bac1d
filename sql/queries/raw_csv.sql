-- Every cell of a CSV file as text, in file order; malformed lines go to reject_errors. The
-- dialect is fixed, never sniffed: $delimiter between cells, '"' quotes (doubled inside a
-- quoted cell), and one header line, skipped here, whose names the caller read ($columns).
select *
from read_csv(
    $path,
    columns = $columns,
    delim = $delimiter,
    quote = '"',
    escape = '"',
    header = true,
    auto_detect = false,
    store_rejects = true
)
