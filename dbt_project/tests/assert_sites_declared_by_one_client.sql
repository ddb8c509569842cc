{{ config(severity='warn') }}
-- billing-rules section 2: a record belongs to the client that owns its site, so one
-- site id must be declared by one client. When two documents in force declare it, the
-- newest declaration wins (stg_inbox__sites) and this test warns.
select
    site.value ->> 'id' as site_id,
    array_agg(distinct documents.client_id order by documents.client_id) as client_ids

from {{ ref('stg_inbox__contract_documents') }} as documents
cross join lateral jsonb_array_elements(coalesce(documents.document -> 'sites', '[]'::jsonb)) as site (value)
group by site.value ->> 'id'
having count(distinct documents.client_id) > 1
