{#- A finding's stable id: md5 of its type and its evidence (sorted source refs), so the
    same problem found again on the next run keeps its id and its review.
    Python equivalent: hashlib.md5(f"{type}:{','.join(evidence)}".encode()).hexdigest() -#}
{% macro finding_id(type_expr, evidence_expr) -%}
    md5({{ type_expr }} || ':' || array_to_string({{ evidence_expr }}, ','))
{%- endmacro %}


{#- billing-rules section 10: blocking where money cannot be computed until someone
    decides, info for unpriced incidents, warning for everything else. -#}
{% macro finding_severity(type_expr) -%}
    case
        when {{ type_expr }} in (
            'missing_rate', 'ambiguous_contract', 'service_outside_contract',
            'missing_checkout', 'bad_interval', 'overlapping_shift', 'duplicate_record'
        ) then 'blocking'
        when {{ type_expr }} = 'unpriced_incident' then 'info'
        else 'warning'
    end
{%- endmacro %}
