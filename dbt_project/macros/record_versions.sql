{#- Version bookkeeping for a raw record table: one row per delivered version of
    (source, record_id), oldest first. A later delivery wins; within one delivery the
    later file and line win; content_hash breaks any remaining tie. -#}
{% macro record_version_columns() -%}
        row_number() over (
            partition by source, record_id
            order by ingested_at, source_file, source_line, content_hash
        ) as version_number,
        count(*) over (partition by source, record_id) as version_count,
        row_number() over (
            partition by source, record_id
            order by ingested_at desc, source_file desc, source_line desc, content_hash desc
        ) = 1 as is_latest_version
{%- endmacro %}


{#- The version of each record the marts use: the latest, unless finance reviewed the
    record's duplicate_record finding as `billed_as_is`, which bills the first version
    (billing-rules section 10). -#}
{% macro selected_versions(relation) -%}
    select versions.*
    from {{ relation }} as versions
    left join {{ ref('stg_review__finding_reviews') }} as reviews
        on reviews.finding_id = {{ finding_id("'duplicate_record'", "array[versions.source_ref]") }}
    where case
        when reviews.status = 'billed_as_is' then versions.version_number = 1
        else versions.is_latest_version
    end
{%- endmacro %}
