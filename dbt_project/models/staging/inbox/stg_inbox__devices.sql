-- Device inventory, one row per delivered version of (source, record_id).
with

source as (

    select * from {{ source('inbox', 'devices') }}

),

renamed as (

    select
        ---- ids
        record_id as device_id,
        source,
        source || ':' || record_id as source_ref,
        site_id,

        ---- attributes
        device_type,
        vendor_ref,

        ---- dates
        active_from,
        active_to,

        ---- lineage and versions
        source_file,
        source_line,
        content_hash,
        ingested_at,
{{ record_version_columns() }}

    from source

)

select * from renamed
