-- dim_company always has exactly one row (the company file in force, or the defaults).
select count(*) as company_rows
from {{ ref('dim_company') }}
having count(*) <> 1
