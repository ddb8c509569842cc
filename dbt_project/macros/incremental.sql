{#- Incremental builds (issue 14; docs/performance.md, "Pipeline"). The orchestration records
    each build it starts in vigil_meta.mart_builds (status running): `since` is the watermark of
    the last build that succeeded, and what was ingested or reviewed at or after it is read as
    changed. dbt run by hand has no running build: build 0, since -infinity, so everything is
    read as changed and an incremental model recomputes every row (slow but right). -#}
{% macro build_since() -%}
    coalesce(
        (select since from vigil_meta.mart_builds where status = 'running' order by build_id desc limit 1),
        '-infinity'::timestamptz
    )
{%- endmacro %}


{% macro build_id() -%}
    coalesce(
        (select build_id from vigil_meta.mart_builds where status = 'running' order by build_id desc limit 1),
        0
    )
{%- endmacro %}


{#- Rows an incremental model recomputes carry the build's id; its readers recompute what
    carries it. -#}
{% macro changed_in_build(alias='') -%}
    {{ alias ~ '.' if alias }}changed_build = {{ build_id() }}
{%- endmacro %}


{#- pre_hook of a model that replaces the rows of the keys its upstream recomputed: they are
    deleted first, then the model inserts what they are now (a key can have no row any more). -#}
{% macro delete_changed(key, upstream, upstream_key=none) -%}
    {%- if is_incremental() -%}
        delete from {{ this }} where {{ key }} in (
            select {{ upstream_key or key }} from {{ upstream }} where {{ changed_in_build() }}
        )
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}


{#- A test's `where` may name the running build: `__since__` and `__build_id__` (dbt does not
    allow macros in test configurations, so they are placeholders replaced here; dbt's
    documented way to extend the where subquery). -#}
{% macro postgres__get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- if where -%}
        {%- set where = where | replace('__since__', build_since()) | replace('__build_id__', build_id()) -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}
