-- Every record kept out of billing, one row each: refused by a connector (raw.quarantine),
-- or held back because no contract in force declares its site (unknown_site, which
-- returns by itself once a contract declares the site). What `vigil export quarantine`
-- writes and the console lists.
with

refused as (

    select * from {{ ref('stg_inbox__quarantined_records') }}

),

unknown_sites as (

    select * from {{ ref('fct_quarantine_unknown_sites') }}

)

select
    'refused:' || refused.quarantine_id as quarantine_key,
    refused.source,
    refused.source_file,
    refused.source_line,
    refused.record_id,
    refused.field,
    refused.reason,
    refused.quarantined_at

from refused

union all

select
    'unknown_site:' || unknown_sites.quarantine_key as quarantine_key,
    unknown_sites.source,
    unknown_sites.source_file,
    unknown_sites.source_line,
    unknown_sites.record_id,
    'site_id' as field,
    unknown_sites.reason,
    unknown_sites.ingested_at as quarantined_at

from unknown_sites
