-- Sites of each client, merged from its documents: the contract YAML's sites in its order,
-- then the CRM's sites the YAML lacks in the CRM's order (`site_position`; the first site
-- gives a contract its default timezone). A site declared by several clients belongs to
-- the most recently ingested declaration (assert_sites_declared_by_one_client warns).
-- A table, not a view: it reads another staging model (views never stack).
{{ config(materialized='table', indexes=[{'columns': ['site_id'], 'unique': True}, {'columns': ['client_id']}]) }}
with

documents as (

    select * from {{ ref('stg_inbox__contract_documents') }}

),

declared as (

    select
        documents.client_id,
        documents.source_precedence,
        documents.ingested_at,
        documents.document_id,
        site.value as site,
        site.ordinality as document_position

    from documents
    cross join lateral jsonb_array_elements(
        coalesce(documents.document -> 'sites', '[]'::jsonb)
    ) with ordinality as site (value, ordinality)

),

per_client as (

    select
        *,
        row_number() over (
            partition by client_id, site ->> 'id'
            order by source_precedence asc, document_position asc
        ) as client_rank

    from declared

),

ranked as (

    select
        *,
        row_number() over (
            partition by site ->> 'id'
            order by ingested_at desc, document_id desc, document_position asc
        ) as declaration_rank

    from per_client
    where client_rank = 1

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
        row_number() over (
            partition by client_id
            order by source_precedence asc, document_position asc
        ) as site_position

    from ranked
    where declaration_rank = 1

)

select * from renamed
