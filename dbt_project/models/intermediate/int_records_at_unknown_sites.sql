-- billing-rules section 2: records (selected version, cross-feed copies dropped) whose site no contract in force
-- declares. They stay out of the facts until a contract declares the site. Shifts and tours
-- come from their version tables, which mark the site (a partial index finds the few).
{%- set record_types = [
    {'type': 'shift', 'model': 'int_shift_versions', 'versions': true, 'id': 'shift_id', 'occurred_at': 'check_in_at'},
    {'type': 'incident', 'model': 'int_incidents_deduplicated', 'id': 'incident_id', 'occurred_at': 'response_started_at'},
    {'type': 'patrol_tour', 'model': 'int_patrol_tour_versions', 'versions': true, 'id': 'tour_id', 'occurred_at': 'started_at'},
    {'type': 'device', 'model': 'int_devices_deduplicated', 'id': 'device_id', 'occurred_at': "active_from::timestamp at time zone 'UTC'"},
] %}

with

sites as (

    select site_id from {{ ref('stg_inbox__sites') }}

),
{% for record in record_types %}
    {{ record.type }}_versions as (

        select * from {{ ref(record.model) }}
        {% if record.versions %}where not site_declared{% endif %}

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
