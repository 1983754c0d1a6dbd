-- k_selection: the figures of every k tried when choosing k, filled by Go
-- (segment) with the Appender.
-- grain: k; key: k.
create or replace table k_selection (
    k                 integer,
    inertia           double,
    silhouette        double,
    calinski_harabasz double,
    davies_bouldin    double,
    stability         double,
    smallest_share    double,
    eligible          boolean,
    chosen            boolean
)
