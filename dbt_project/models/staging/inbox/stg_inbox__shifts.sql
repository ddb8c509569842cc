-- Guard shifts, one row per delivered version of (source, record_id): the marts pick
-- one version (selected_versions()), duplicate_record findings read version_count.
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

        ---- lineage and versions
        source_file,
        source_line,
        content_hash,
        ingested_at,
        {{ record_version_columns() }}

    from source

)

select * from renamed
