//! Pushing the metrics to a Prometheus Pushgateway, for schedulers whose workers have no
//! node_exporter (Kubernetes Jobs, Airflow workers).
//!
//! A `PUT` to `/metrics/job/dentally_etl/pipeline/<name>[/shard/<i>]` replaces every metric of that
//! group, so each pipeline (and shard) keeps the figures of its last run. A failed push is logged
//! and does not fail the run: the data is written either way.

use std::time::Duration;

use url::Url;

/// The group URL of `pipeline` (and `shard`) under `base`.
pub fn group_url(base: &Url, pipeline: &str, shard: Option<u32>) -> Url {
    let mut url = base.clone();
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty()
            .extend(["metrics", "job", "dentally_etl", "pipeline", pipeline]);
        if let Some(s) = shard {
            let index = s.to_string();
            path.extend(["shard", index.as_str()]);
        }
    }
    url
}

/// Replaces the group's metrics with `text`.
pub async fn push(
    base: &Url,
    pipeline: &str,
    shard: Option<u32>,
    text: &str,
) -> Result<(), String> {
    let url = group_url(base, pipeline, shard);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
        .map_err(|e| e.to_string())?;
    let answer = client
        .put(url.clone())
        .header("Content-Type", "text/plain; version=0.0.4")
        .body(text.to_string())
        .send()
        .await
        .map_err(|e| format!("cannot reach the Pushgateway at {url}: {e}"))?;
    let status = answer.status();
    if status.is_success() {
        return Ok(());
    }
    let body = answer.text().await.unwrap_or_default();
    Err(format!(
        "the Pushgateway at {url} answered {status}: {}",
        body.chars().take(300).collect::<String>()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_group_path_names_the_pipeline_and_shard() {
        let base = Url::parse("http://pg:9091/").unwrap();
        assert_eq!(
            group_url(&base, "nightly", Some(2)).as_str(),
            "http://pg:9091/metrics/job/dentally_etl/pipeline/nightly/shard/2"
        );
        let prefixed = Url::parse("http://pg:9091/proxy").unwrap();
        assert_eq!(
            group_url(&prefixed, "n", None).as_str(),
            "http://pg:9091/proxy/metrics/job/dentally_etl/pipeline/n"
        );
    }
}
