-- run history, schema version 6: experiments (crmseg experiment run) and
-- their promotions (crmseg experiment promote). An experiment is recorded
-- in runs like a run, with kind 'experiment', its name and the run whose
-- inputs it read; its directory is experiments/<name>, and null once a
-- later experiment of the same name replaced it. Runs recorded before
-- version 6 are runs: kind null reads as 'run'.
alter table run_history.runs add column kind varchar;

alter table run_history.runs add column experiment_name varchar;

alter table run_history.runs add column base_run_id varchar;

-- grain: promotion; key: promoted_at, experiment_name. The configuration
-- file an experiment's settings were written into, the copy of the file as
-- it was before, and the model file replaced (null when none was).
create table run_history.promotions (
    promoted_at         timestamp not null,
    experiment_name     varchar not null,
    experiment_run_id   varchar not null,
    base_run_id         varchar,
    config_path         varchar not null,
    previous_config     varchar not null,
    model_path          varchar,
    previous_model      varchar,
    diff                varchar not null,
    crmseg_version      varchar
);
