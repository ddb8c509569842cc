-- Records held back because no contract in force declares their site (billing-rules
-- section 2). A record leaves this table, and enters its fct_ model, on the first run
-- after a contract declaring the site is accepted.
with

records as (

    select * from {{ ref('int_records_at_unknown_sites') }}

)

select
    record_type,
    source,
    record_id,
    source_ref,
    site_id,
    occurred_at,
    reason,
    source_file,
    source_line,
    ingested_at,
    record_type || '|' || source_ref as quarantine_key

from records
