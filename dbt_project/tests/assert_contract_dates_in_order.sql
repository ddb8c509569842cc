{{ config(severity='warn') }}
-- A contract ends on or after the day it starts; otherwise no record can ever match it.
select contract_id, start_date, end_date
from {{ ref('dim_contracts') }}
where end_date < start_date
