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
        -- a generic device's link to the vendor row it duplicates: `<vendor source>:<vendor device id>`
        case
            when source = 'devices' and strpos(vendor_ref, ':') > 1
                then split_part(vendor_ref, ':', 1)
        end as upstream_source,
        case
            when source = 'devices' and strpos(vendor_ref, ':') > 1
                then substr(vendor_ref, strpos(vendor_ref, ':') + 1)
        end as upstream_id,

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
