-- The newest accepted contract document per client and source. A client's terms are
-- merged from its documents in stg_inbox__clients, __sites and __contracts: the contract
-- YAML (`contracts`) is authoritative for the client block, its sites and every contract
-- that prices guard work; the CRM (`crm`) contributes its monitoring contracts and the
-- sites the YAML lacks; the renewals (`renewals`, written by billing/renewals when a client
-- accepts or a contract auto-renews) contribute the new contract versions. Each source keeps
-- its own document, so the terms in force never depend on which source was ingested last.
with

source as (

    select * from {{ source('inbox', 'contract_documents') }}

),

ranked as (

    select
        *,
        row_number() over (
            partition by client_id, source
            order by ingested_at desc, document_id desc
        ) as recency_rank

    from source

),

renamed as (

    select
        ---- ids
        document_id,
        client_id,
        source || ':' || client_id as source_ref,

        ---- document
        document,
        -- 1: authoritative (the contract YAML), 2: contributing (the CRM), 3: renewals
        case source when 'crm' then 2 when 'renewals' then 3 else 1 end as source_precedence,

        ---- lineage
        source,
        source_file,
        content_hash,
        ingested_at

    from ranked
    where recency_rank = 1

)

select * from renamed
