{{ config(materialized='ephemeral') }}
-- billing-rules section 10: duplicate_record, a record delivered again with the same id
-- and other content. The marts use the latest version until finance decides
-- (`billed_as_is` switches them to the first). Shifts and tours come from their version
-- tables (a partial index holds the few with several versions), incidents and devices from
-- their staging views.
{%- set record_models = [
    ('shift', 'int_shift_versions', 'latest_site_id', 'latest_occurred_at'),
    ('incident', 'stg_inbox__incidents', 'site_id', 'response_started_at'),
    ('patrol tour', 'int_patrol_tour_versions', 'latest_site_id', 'latest_occurred_at'),
    ('device', 'stg_inbox__devices', 'site_id', "active_from::timestamp at time zone 'UTC'"),
] %}

with

sites as (

    select * from {{ ref('stg_inbox__sites') }}

),

-- the contract that bills the record's version in use, where one matches
matched as (

    select
        'shift' as record_label,
        matched.source_ref,
        matched.contract_id
    from {{ ref('int_shifts_matched_to_contracts') }} as matched
    inner join {{ ref('int_shift_versions') }} as versions
        on matched.source_ref = versions.source_ref and versions.version_count > 1
    union all
    select
        'incident' as record_label,
        source_ref,
        contract_id
    from {{ ref('int_incidents_matched_to_contracts') }}
    union all
    select
        'patrol tour' as record_label,
        matched.source_ref,
        matched.contract_id
    from {{ ref('int_tours_matched_to_contracts') }} as matched
    inner join {{ ref('int_patrol_tour_versions') }} as versions
        on matched.source_ref = versions.source_ref and versions.version_count > 1

),

versioned as (
    {% for label, model, site_id, occurred_at in record_models %}
        select
            '{{ label }}' as record_label,
            source_ref,
            {{ site_id }} as site_id,
            {{ occurred_at }} as occurred_at,
            version_count

        from {{ ref(model) }}
        where
            version_count > 1
            {% if model.startswith('stg_') %}and is_latest_version{% endif %}
        {% if not loop.last %}union all{% endif %}
    {%- endfor %}

)

select
    'duplicate_record' as type,
    sites.client_id,
    versioned.site_id,
    matched.contract_id,
    (versioned.occurred_at at time zone coalesce(sites.timezone, 'UTC'))::date as service_date,
    array[versioned.source_ref] as evidence,
    format(
        'The %s %s was delivered in %s versions with different content; the latest is used until reviewed (billed_as_is bills the first).',
        versioned.record_label, versioned.source_ref, versioned.version_count
    ) as message

from versioned
left join sites on versioned.site_id = sites.site_id
left join matched
    on
        versioned.record_label = matched.record_label
        and versioned.source_ref = matched.source_ref
-- a generic copy of a vendor record is not billed at all (int_cross_feed_duplicates)
where not exists (
    select 1
    from {{ ref('int_cross_feed_duplicates') }} as dropped
    where dropped.dropped_source_ref = versioned.source_ref
)
