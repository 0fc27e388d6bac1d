-- Every row of a Parquet file, in file order (cast to text column by column by the caller).
select * from read_parquet($path)
