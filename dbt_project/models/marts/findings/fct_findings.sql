-- billing-rules section 10: every finding of every rule family, with its stable id,
-- severity (seeds/finding_types.csv) and finance's review (open unless reviewed).
{%- set families = [
    'int_findings_shifts',
    'int_findings_incidents',
    'int_findings_tours',
    'int_findings_records',
    'int_findings_clients',
    'int_findings_hours_spike',
    'int_findings_overtime',
    'int_findings_devices',
    'int_findings_response_gap',
    'int_findings_local_time',
] %}

with

unioned as (
    {% for family in families %}
        select
            type::text as type,
            client_id::text as client_id,
            site_id::text as site_id,
            contract_id::text as contract_id,
            service_date::date as service_date,
            evidence::text[] as evidence,
            message::text as message

        from {{ ref(family) }}
        {% if not loop.last %}union all{% endif %}
    {%- endfor %}

),

identified as (

    -- one row per id: the same type and evidence found twice is one finding
    select distinct on (finding_id)
        {{ finding_id('type', 'evidence') }} as finding_id,
        *

    from unioned
    order by finding_id, client_id, site_id, contract_id, message

),

reviews as (

    select * from {{ ref('stg_review__finding_reviews') }}

),

finding_types as (

    select * from {{ ref('finding_types') }}

)

select
    identified.finding_id,
    identified.type,
    finding_types.severity,
    identified.client_id,
    identified.site_id,
    identified.contract_id,
    identified.service_date,
    identified.evidence,
    identified.message,
    coalesce(reviews.status, 'open') as status,
    reviews.reviewed_by,
    reviews.review_note

from identified
left join finding_types on identified.type = finding_types.type
left join reviews on identified.finding_id = reviews.finding_id
