-- The file behind the connection's current database.
select path
from duckdb_databases()
where database_name = current_database()
