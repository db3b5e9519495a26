"""``fs-cgr stats``: a queue's metrics (or every queue's) as a readable list, through the API."""

from fs_cgr.api.cli import main


def test_stats_prints_the_metrics(api, capsys):
    api.call(
        "APIerSv1.SetStatQueueProfile",
        {
            "Tenant": "cgrates.org",
            "ID": "SQ_CLI",
            "QueueLength": 10,
            "TTL": -1,
            "Metrics": [{"MetricID": "*asr"}, {"MetricID": "*acd"}, {"MetricID": "*tcc"}],
            "ThresholdIDs": ["*none"],
        },
    )
    for event_id, answer in (("a", "2026-01-01T10:00:00Z"), ("b", "")):
        api.call(
            "StatSv1.ProcessEvent",
            {"Tenant": "cgrates.org", "ID": event_id,
             "Event": {"AnswerTime": answer, "Usage": "90s", "Cost": 1.25}},
        )  # fmt: skip
    assert main(["stats", "SQ_CLI", "--url", api.url]) == 0
    assert capsys.readouterr().out == "SQ_CLI\n  *acd  1m30s\n  *asr  50%\n  *tcc  2.5\n"
    assert main(["stats", "--url", api.url]) == 0
    assert capsys.readouterr().out.startswith("SQ_CLI\n  *acd  1m30s\n")
    assert main(["stats", "--json", "SQ_CLI", "--url", api.url]) == 0
    assert '"*asr": "50%"' in capsys.readouterr().out


def test_stats_of_an_unknown_queue_fails_clearly(api, capsys):
    assert main(["stats", "NO_SUCH", "--url", api.url]) == 1
    assert "NOT_FOUND" in capsys.readouterr().err
