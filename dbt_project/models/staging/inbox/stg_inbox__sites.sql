-- Sites declared by the documents in force. A site declared by several clients belongs
-- to the most recently ingested declaration (assert_sites_declared_by_one_client warns).
with

documents as (

    select * from {{ ref('stg_inbox__contract_documents') }}

),

declared as (

    select
        documents.client_id,
        documents.ingested_at,
        documents.document_id,
        site.value as site,
        site.ordinality as site_position

    from documents
    cross join lateral jsonb_array_elements(
        coalesce(documents.document -> 'sites', '[]'::jsonb)
    ) with ordinality as site (value, ordinality)

),

ranked as (

    select
        *,
        row_number() over (
            partition by site ->> 'id'
            order by ingested_at desc, document_id desc, site_position asc
        ) as declaration_rank

    from declared

),

renamed as (

    select
        ---- ids
        site ->> 'id' as site_id,
        client_id,

        ---- attributes
        site ->> 'name' as site_name,
        site ->> 'timezone' as timezone,
        site ->> 'tax_jurisdiction' as tax_jurisdiction,
        site_position

    from ranked
    where declaration_rank = 1

)

select * from renamed
