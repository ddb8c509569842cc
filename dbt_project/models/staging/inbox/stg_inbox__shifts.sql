-- Guard shifts, one row per delivered version of (source, record_id). The version in use
-- of each record is int_shift_versions' (an incremental table: a view computing versions
-- over every delivered row would be evaluated again by every reader).
with

source as (

    select * from {{ source('inbox', 'timesheets') }}

),

renamed as (

    select
        ---- ids
        record_id as shift_id,
        source,
        source || ':' || record_id as source_ref,
        guard_id,
        site_id,

        ---- attributes
        guard_name,
        service_type,
        post,
        vendor_ref,

        ---- timestamps (UTC instants)
        check_in_at,
        check_out_at,
        scheduled_start_at,
        scheduled_end_at,

        ---- lineage
        source_file,
        source_line,
        content_hash,
        ingested_at

    from source

)

select * from renamed
