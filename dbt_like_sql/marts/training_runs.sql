-- Published: every run of every model: one row per model, stage, source and boundary that a source
-- reports, plus this project's estimate where no usable disclosed emissions figure exists. Exactly one run
-- per model and stage is the headline (is_headline), chosen by the rules in METHODOLOGY.md ("Headline
-- rules"); headline_reason says why each run is or is not the headline. Summing emissions_tco2e over
-- headline runs counts no training twice: an aggregate (family, group) is a headline only when none of its
-- members has a run of that stage with emissions, and a run that covers other stages (a total, a
-- development figure including the final runs) only when those stages have no headline of their own.
with disclosed as (
    select
        s.run_id, s.model_id, s.stage, s.source_id, s.boundary, s.model_name, s.organization_canonical as organization,
        s.training_year, s.hardware, s.chip_count, s.chip_hours, s.energy_kwh, s.location, s.pue,
        s.carbon_intensity_kg_per_kwh, s.emissions_tco2e, s.emissions_basis, s.emissions_resolution,
        s.market_based_emissions_tco2e, s.embodied_tco2e, s.is_restatement, s.is_superseded, s.is_copy,
        s.is_primary, s.disclosure_type, s.contains_stages, s.not_headline_reason, s.source_published_date,
        s.source_url, src.verification,
        if(s.emissions_tco2e is null, null, 'disclosed') as emissions_origin
    from int_runs_scoped as s
    left join stg_registry__sources as src using (source_id)
),

estimated as (
    select
        e.run_id, e.model_id, e.stage, e.source_id, 'final run only' as boundary, e.model_name, e.organization,
        e.training_year, e.hardware, e.chip_count, e.chip_hours, null::double as energy_kwh, e.location,
        null::double as pue, null::double as carbon_intensity_kg_per_kwh, x.estimated_tco2e as emissions_tco2e,
        'location-based' as emissions_basis, null::double as emissions_resolution,
        null::double as market_based_emissions_tco2e, null::double as embodied_tco2e, false as is_restatement,
        false as is_superseded, false as is_copy, false as is_primary, 'estimate' as disclosure_type,
        []::varchar[] as contains_stages, null::varchar as not_headline_reason,
        null::date as source_published_date, e.source_url, null::varchar as verification,
        if(x.estimated_tco2e is null, null, 'estimated') as emissions_origin
    from estimate_runs as e
    join run_estimates as x using (run_id)
),

runs as (
    select
        r.*,
        x.* exclude (run_id),
        coalesce(m.is_aggregate, false) as is_aggregate,
        m.member_model_ids,
        m.family_id,
        m.release_year,
        r.emissions_tco2e is not null
            and not r.is_superseded
            and r.not_headline_reason is null
            and coalesce(x.arithmetic_factor, 1) <= 3 as is_eligible,
        case
            when r.disclosure_type = 'first-party' and r.is_primary
                 and coalesce(r.verification, 'primary') = 'primary' then 0
            when r.disclosure_type = 'first-party' and coalesce(r.verification, 'primary') = 'primary' then 1
            when r.disclosure_type = 'third-party' and not r.is_copy then 2
            when r.disclosure_type in ('first-party', 'third-party') and not r.is_copy then 3
            when r.disclosure_type in ('first-party', 'third-party') then 4
            else 5
        end as tier,
        case r.boundary
            when 'final run only' then 1 when 'includes idle and infrastructure' then 2
            when 'includes embodied hardware' then 3 when 'includes development and experiments' then 4
            when 'includes use' then 5 else 6
        end as boundary_rank,
        case r.emissions_basis when 'location-based' then 1 when 'unspecified' then 2 when 'operational' then 3
            when 'lifecycle' then 4 else 5 end as basis_rank
    from (select * from disclosed union all by name select * from estimated) as r
    left join run_estimates as x using (run_id)
    left join model_registry as m using (model_id)
),

ranked as (
    select
        *,
        row_number() over (
            partition by model_id, stage
            -- the developer's latest word (a revised card), but a restatement closest to the original
            order by not is_eligible, tier, boundary_rank, basis_rank,
                     if(tier <= 1, source_published_date, null) desc nulls last,
                     if(tier > 1, source_published_date, null) asc nulls last,
                     source_id, run_id
        ) as precedence,
        count(*) over (partition by model_id, stage) as n_runs
    from runs
),

with_emissions as (
    select model_id, stage from ranked where precedence = 1 and is_eligible
),

related as (
    -- the models whose runs a model's covering run may contain: itself, its members, its base model
    select model_id, model_id as related_id from ranked
    union
    select model_id, unnest(member_model_ids) from model_registry where is_aggregate
    union
    select model_id, base_model_id from model_registry where base_model_id is not null
),

covered as (
    select
        r.run_id,
        r.is_aggregate and exists (
            select 1 from with_emissions as w
            where w.stage = r.stage and list_contains(coalesce(r.member_model_ids, []), w.model_id)
        ) as members_have_runs,
        (
            select string_agg(distinct w.model_id || ' ' || w.stage, ', ' order by w.model_id || ' ' || w.stage)
            from related as rel
            join with_emissions as w on w.model_id = rel.related_id
            where rel.model_id = r.model_id
              and w.stage <> r.stage
              and list_contains(
                  if(r.stage = 'total', ['pretraining', 'fine-tuning', 'development'], r.contains_stages), w.stage)
        ) as covered_stages
    from ranked as r
),

conflicting as (
    select distinct a.run_id
    from ranked as a
    join ranked as b
        on a.model_id = b.model_id and a.stage = b.stage and a.boundary is not distinct from b.boundary
        and a.run_id <> b.run_id
    where a.emissions_origin = 'disclosed' and b.emissions_origin = 'disclosed'
      and not a.is_superseded and not b.is_superseded
      and abs(a.emissions_tco2e - b.emissions_tco2e)
          > greatest(coalesce(a.emissions_resolution, 0), coalesce(b.emissions_resolution, 0)) / 2
            + 0.01 * greatest(a.emissions_tco2e, b.emissions_tco2e)
),

decided as (
    select
        r.*,
        c.members_have_runs,
        c.covered_stages,
        r.precedence = 1 and not c.members_have_runs and c.covered_stages is null as is_headline,
        k.run_id is not null as has_conflict
    from ranked as r
    join covered as c using (run_id)
    left join conflicting as k using (run_id)
)

select
    run_id,
    model_id,
    model_name,
    organization,
    stage,
    release_year as year,
    training_year,
    hardware,
    hardware_id,
    chip_count,
    coalesce(chip_hours, chip_hours_used) as chip_hours,
    chip_hours_origin,
    coalesce(energy_kwh, energy_kwh_used) as energy_kwh,
    if(energy_kwh is not null, 'disclosed', energy_origin) as energy_origin,
    location,
    location_id,
    location_origin,
    coalesce(pue, if(estimated_tco2e is null, null, pue_used)) as pue,
    case when pue is not null then 'disclosed' when estimated_tco2e is not null then pue_origin end as pue_origin,
    coalesce(carbon_intensity_kg_per_kwh, if(estimated_tco2e is null, null, carbon_intensity_used_kg_per_kwh))
        as carbon_intensity_kg_per_kwh,
    case
        when carbon_intensity_kg_per_kwh is not null then 'disclosed'
        when estimated_tco2e is not null then carbon_intensity_origin
    end as carbon_intensity_origin,
    emissions_tco2e,
    if(emissions_tco2e is null, null, emissions_basis) as emissions_basis,
    emissions_origin,
    market_based_emissions_tco2e,
    estimated_tco2e,
    estimate_low_tco2e,
    estimate_high_tco2e,
    width_drivers,
    lifecycle_tco2e,
    lifecycle_low_tco2e,
    lifecycle_high_tco2e,
    coalesce(embodied_tco2e, embodied_estimated_tco2e) as embodied_tco2e,
    case when embodied_tco2e is not null then 'disclosed' else embodied_origin end as embodied_origin,
    estimate_method,
    estimate_message,
    arithmetic_tco2e,
    arithmetic_factor,
    disclosure_type,
    is_primary,
    is_restatement,
    is_aggregate,
    nullif(array_to_string(member_model_ids, ','), '') as member_model_ids,
    family_id,
    boundary,
    has_conflict,
    count(distinct source_id) filter (where emissions_origin is distinct from 'estimated')
        over (partition by model_id, stage) as n_sources,
    not is_eligible and emissions_tco2e is not null as is_excluded,
    precedence,
    is_headline,
    case
        when is_headline then concat_ws('; ',
            case tier
                when 0 then 'first-party original figure'
                when 1 then 'first-party figure (a repeat or a restatement; no original on record)'
                when 2 then 'third-party figure (the developer published none)'
                when 3 then 'figure read in a secondary copy (no primary text on record)'
                when 4 then 'a repeat of a published figure (no original on record)'
                else if(emissions_tco2e is null, 'no emissions figure or estimate on record',
                        'this project''s estimate (no usable published figure)')
            end,
            if(n_runs > 1, 'ranked first of ' || n_runs || ' runs for this model and stage', null))
        when members_have_runs then 'aggregate: its members have runs of this stage (summing both would count '
            || 'the same training twice)'
        when covered_stages is not null then 'covers stages that have their own headline runs (' || covered_stages
            || '); summing both would count them twice'
        when not_headline_reason is not null then 'not a headline: ' || not_headline_reason
        when is_superseded then 'superseded by a later version of the same document'
        when coalesce(arithmetic_factor, 1) > 3 then 'not a headline: ' || round(arithmetic_factor, 1)
            || 'x away from its own document''s arithmetic (' || round(arithmetic_tco2e, 1) || ' tCO2e)'
        when emissions_tco2e is null then 'no emissions figure'
        else 'ranked below the headline (' || case tier
                when 1 then 'a repeat or restatement' when 2 then 'third-party'
                when 3 then 'read in a secondary copy' when 4 then 'a repeat of an earlier figure'
                when 5 then 'an estimate' else 'same standing, wider boundary or older source' end || ')'
    end as headline_reason,
    source_id,
    source_url
from decided
order by model_id, stage, precedence
