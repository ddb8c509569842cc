with

sites as (

    select * from {{ ref('stg_inbox__sites') }}

)

select
    site_id,
    client_id,
    site_name,
    timezone,
    tax_jurisdiction,
    site_position

from sites
