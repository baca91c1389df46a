"""The benchmark's list of the jobs seen latest against the fixed poller with the same budget."""

from __future__ import annotations

from bench.live import JobRecord, Run, detection_table, guarantees, latest_table


def test_the_jobs_seen_latest_come_first_with_the_gap_that_made_them_late():
    run = Run("polls", budget=100.0, scale=1.0, webhooks=False)
    # Both finish 10 s in; the fixed poller (every 3 s from 3 s, its polls a slot behind the two
    # creates) sees both at 12.01 s. The bot saw the first at 12 s and the second at 19 s, after
    # a gap of 9.1 s from its look at 9.9 s.
    run.jobs.append(JobRecord(0.0, 10.0, False, [3.0, 6.0, 9.0, 12.0], posted=12.1))
    run.jobs.append(JobRecord(0.0, 10.0, False, [3.0, 6.0, 9.9, 19.0], posted=19.1))

    rows = latest_table(run, count=1)

    assert len(rows) == 3  # the header, its rule and one job
    assert rows[2] == "| 2 | 10.0 | 2.33 | 2.01 | 9.00 | 9.1 |"


def test_the_guarantees_say_how_far_the_fixed_poller_loses_to_its_own_shifted_phase():
    run = Run("polls", budget=1.0, scale=1.0, webhooks=False)
    # One request a second. The fixed poller looks at 3 and 6 (after the create at 0) and sees
    # the job, finished at 5.9 s, at 6; with its looks 1.5 s later, at 4.5 and 7.5: 1.5 s, half
    # an interval, later.
    run.jobs.append(JobRecord(0.0, 5.9, False, [3.0, 6.0], posted=6.1))

    (line,) = guarantees([run])
    rows = detection_table([run])

    assert "**0.00** intervals" in line
    assert "half an interval later: 0.50)" in line
    # Its detection beside the others': 1.6 s, 16 times the fixed poller's 0.1 s.
    assert "| 1 | 1-50 | fixed, same budget, half an interval later | 1.60 | 1.60 | 1.60 " in (
        "\n".join(rows)
    )
    assert rows[-2].endswith("| 2.00 | 16.00 |")
