-- The company file in force (interfaces.md section 2a): the newest accepted company.yaml.
with

source as (

    select * from {{ source('inbox', 'company_documents') }}

),

ranked as (

    select
        *,
        row_number() over (order by ingested_at desc, document_id desc) as recency_rank

    from source

),

renamed as (

    select
        ---- ids
        document_id,

        ---- attributes
        document ->> 'name' as company_name,
        array(select jsonb_array_elements_text(document -> 'address')) as address_lines,
        document ->> 'email' as email,
        document ->> 'phone' as phone,
        document ->> 'tax_id' as tax_id,
        array(select jsonb_array_elements_text(document -> 'remit_to')) as remit_to_lines,
        coalesce(document ->> 'timezone', 'UTC') as timezone,
        document ->> 'logo' as logo_path,
        logo,
        logo_media_type,
        document ->> 'sales_email' as sales_email,

        ---- lineage
        source,
        source_file,
        content_hash,
        ingested_at

    from ranked
    where recency_rank = 1

)

select * from renamed
