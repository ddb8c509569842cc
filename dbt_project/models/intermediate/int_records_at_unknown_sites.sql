-- billing-rules section 2: records (selected version, cross-feed copies dropped) whose site no contract in force
-- declares. They stay out of the facts until a contract declares the site.
{%- set record_types = [
    {'type': 'shift', 'model': 'stg_inbox__shifts', 'id': 'shift_id', 'occurred_at': 'check_in_at'},
    {'type': 'incident', 'model': 'int_incidents_deduplicated', 'deduplicated': true, 'id': 'incident_id', 'occurred_at': 'response_started_at'},
    {'type': 'patrol_tour', 'model': 'stg_inbox__patrol_tours', 'id': 'tour_id', 'occurred_at': 'started_at'},
    {'type': 'device', 'model': 'int_devices_deduplicated', 'deduplicated': true, 'id': 'device_id', 'occurred_at': "active_from::timestamp at time zone 'UTC'"},
] %}

with

sites as (

    select site_id from {{ ref('stg_inbox__sites') }}

),
{% for record in record_types %}
    {{ record.type }}_versions as (

        {% if record.deduplicated %}select * from {{ ref(record.model) }}{% else %}{{ selected_versions(ref(record.model)) }}{% endif %}

    ),

    {{ record.type }}_records as (

        select
            '{{ record.type }}' as record_type,
            source,
            {{ record.id }} as record_id,
            source_ref,
            site_id,
            {{ record.occurred_at }} as occurred_at,
            source_file,
            source_line,
            ingested_at

        from {{ record.type }}_versions

    ),
{% endfor %}
unioned as (
    {% for record in record_types %}
        select * from {{ record.type }}_records
        {% if not loop.last %}union all{% endif %}
    {%- endfor %}

)

select
    unioned.*,
    'unknown_site' as reason

from unioned
where not exists (
    select 1 from sites
    where sites.site_id = unioned.site_id
)
