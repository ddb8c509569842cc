{#- Version bookkeeping for a raw record table: one row per delivered version of
    (source, record_id), oldest first. A later delivery wins; within one delivery the
    later file and line win; content_hash breaks any remaining tie. -#}
{% macro record_version_columns() -%}
        row_number() over (
            partition by source, record_id
            order by ingested_at, source_file, source_line, content_hash
        ) as version_number,
        count(*) over (partition by source, record_id) as version_count,
        max(ingested_at) over (partition by source, record_id) as last_ingested_at,
        row_number() over (
            partition by source, record_id
            order by ingested_at desc, source_file desc, source_line desc, content_hash desc
        ) = 1 as is_latest_version
{%- endmacro %}


{#- The version of each record the marts use: the latest, unless finance reviewed the
    record's duplicate_record finding as `billed_as_is`, which bills the first version
    (billing-rules section 10). `updated_at`: the last time anything chose or changed it. -#}
{% macro selected_versions(relation) -%}
    select
        versions.*,
        greatest(
            versions.last_ingested_at, case when reviews.status = 'billed_as_is' then reviews.reviewed_at end
        ) as updated_at
    from {{ relation }} as versions
    left join {{ ref('stg_review__finding_reviews') }} as reviews
        on reviews.finding_id = {{ finding_id("'duplicate_record'", "array[versions.source_ref]") }}
    where case
        when reviews.status = 'billed_as_is' then versions.version_number = 1
        else versions.is_latest_version
    end
{%- endmacro %}


{#- An incremental model of the version in use of each record of a raw table (issue 14):
    `staged` is the staging view (one row per delivered version, no version columns), `id`
    its record id column, `occurred_at` the instant that dates the record. A record is
    recomputed when a version of it was ingested, or finance reviewed its duplicate_record
    finding, since the last build; all its versions are read again (through the raw table's
    unique key), never the whole table. Besides the chosen version's columns a row carries
    the version count, the latest version's site and instant (what duplicate_record cites),
    whether its site is declared by a contract in force, and `updated_at`: the last time
    anything chose or changed this record (a version ingested, the review choosing one). -#}
{% macro record_version_model(staged, id, occurred_at) -%}
with

{% if is_incremental() %}
changed as (

    select distinct
        source,
        {{ id }}
    from {{ staged }}
    where ingested_at >= {{ build_since() }}

    union

    -- a review of its duplicate_record finding since the last build, or one that is gone
    select
        previous.source,
        previous.{{ id }}
    from {{ this }} as previous
    inner join {{ ref('stg_review__finding_reviews') }} as reviews
        on previous.duplicate_finding_id = reviews.finding_id
    where reviews.reviewed_at >= {{ build_since() }}

    union

    select
        previous.source,
        previous.{{ id }}
    from {{ this }} as previous
    where
        previous.billed_as_is
        and not exists (
            select 1 from {{ ref('stg_review__finding_reviews') }} as reviews
            where reviews.finding_id = previous.duplicate_finding_id and reviews.status = 'billed_as_is'
        )

),

versions as (

    select staged.*
    from {{ staged }} as staged
    inner join changed on staged.source = changed.source and staged.{{ id }} = changed.{{ id }}

),
{% else %}
versions as (

    select * from {{ staged }}

),
{% endif %}

numbered as (

    select
        versions.*,
        row_number() over (
            partition by versions.source, versions.{{ id }}
            order by versions.ingested_at, versions.source_file, versions.source_line, versions.content_hash
        ) as version_number,
        count(*) over (partition by versions.source, versions.{{ id }}) as version_count,
        max(versions.ingested_at) over (partition by versions.source, versions.{{ id }}) as last_ingested_at,
        first_value(versions.site_id) over latest_first as latest_site_id,
        first_value(versions.{{ occurred_at }}) over latest_first as latest_occurred_at,
        row_number() over latest_first = 1 as is_latest_version,
        {{ finding_id("'duplicate_record'", 'array[versions.source_ref]') }} as duplicate_finding_id

    from versions
    window latest_first as (
        partition by versions.source, versions.{{ id }}
        order by
            versions.ingested_at desc, versions.source_file desc, versions.source_line desc,
            versions.content_hash desc
    )

),

selected as (

    select
        numbered.*,
        coalesce(reviews.status = 'billed_as_is', false) as billed_as_is,
        greatest(
            numbered.last_ingested_at,
            case when reviews.status = 'billed_as_is' then reviews.reviewed_at end
        ) as updated_at

    from numbered
    left join {{ ref('stg_review__finding_reviews') }} as reviews
        on numbered.duplicate_finding_id = reviews.finding_id
    where
        case
            when reviews.status = 'billed_as_is' then numbered.version_number = 1
            else numbered.is_latest_version
        end

)

select
    selected.*,
    exists (select 1 from {{ ref('stg_inbox__sites') }} as sites where sites.site_id = selected.site_id)
        as site_declared,
    {{ build_id() }} as changed_build

from selected
{%- endmacro %}
