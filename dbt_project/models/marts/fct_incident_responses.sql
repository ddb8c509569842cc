with

incidents as (

    select * from {{ ref('int_incidents_matched_to_contracts') }}

)

select
    incident_id,
    source,
    source_ref,
    site_id,
    client_id,
    contract_id,
    classification,
    response_started_at,
    response_ended_at,
    responder_guard_id,
    service_date,
    opened_at,
    vendor_ref,
    updated_at

from incidents
