"""The defects the suite must catch: each one a mistake a developer could plausibly make in the
code that holds the bot's promises (who may spend credits, every job posted exactly once, nothing
trusted from outside).

Each is an exact snippet of one file and its replacement. A snippet that is no longer in its file
(or is there twice) is reported by the runner, so a refactor that moves code shows up here
rather than leaving a mutant that tests nothing. ``tests`` are the test files that should catch
the defect; a defect they miss is tried against the whole suite before it counts as survived.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Mutant:
    name: str
    path: str
    original: str
    replacement: str
    description: str
    tests: tuple[str, ...]

    @property
    def needs_postgres(self) -> bool:
        """Only the PostgreSQL half of the store tests can catch a defect in its store."""
        return self.path.endswith("postgres.py")


WEBHOOK = ("tests/test_webhook.py", "tests/e2e/test_webhooks.py")
METRICS = ("tests/e2e/test_metrics.py",)
LOGS = ("tests/test_logs.py", "tests/e2e/test_json_logs.py")
STORE = ("tests/store",)
PRESSES = (
    "tests/test_jobs.py",
    "tests/e2e/test_buttons.py",
    "tests/e2e/test_reroll_delete.py",
    "tests/e2e/test_hostile.py",
    "tests/e2e/test_admin.py",
    "tests/e2e/test_fair_use.py",
)
POLICY = ("tests/test_policy.py", "tests/e2e/test_admin.py", "tests/e2e/test_fair_use.py")
CREATE_API = (
    "tests/akool/test_gone.py",
    "tests/akool/test_create_api_gone.py",
    "tests/akool/test_client_v4.py",
    "tests/akool/test_source_prompt.py",
    "tests/test_create_api.py",
)
DELIVERY = (
    "tests/test_notifier.py",
    "tests/e2e/test_notify.py",
    "tests/e2e/test_imagine.py",
    "tests/e2e/test_discord_faults.py",
    "tests/e2e/test_restart.py",
)
CHECK = ("tests/check",)
BUDGET = ("tests/test_budget.py", "tests/store/test_postgres.py")
SCHEDULE = ("tests/test_schedule.py", "tests/test_job_loop.py")
STOP = ("tests/e2e/test_stop.py",)
IMAGINE_OPTIONS = ("tests/test_imagine_options.py", "tests/e2e/test_imagine_options.py")
BATCH_PRESSES = ("tests/e2e/test_v4_buttons.py", "tests/e2e/test_rules_on_every_path.py")

MUTANTS: tuple[Mutant, ...] = (
    # --- bot/webhook.py: nothing from outside is trusted ---
    Mutant(
        "webhook-signature-skipped",
        "bot/webhook.py",
        "if not hmac.compare_digest(expected.encode(), sig.lower().encode()):",
        "if False:",
        "webhook signature check skipped",
        WEBHOOK,
    ),
    Mutant(
        "webhook-freshness-skipped",
        "bot/webhook.py",
        "        sent_at = self._check_fresh(timestamp)\n",
        "        sent_at = 0.0\n",
        "webhook freshness check skipped",
        WEBHOOK,
    ),
    Mutant(
        "webhook-replay-key-is-nonce",
        "bot/webhook.py",
        "            signature=expected,\n",
        "            signature=nonce,\n",
        "replays recognised by AKOOL's 4-digit nonce (genuine callbacks sharing one are dropped)",
        WEBHOOK,
    ),
    Mutant(
        "webhook-replay-ledger-skipped",
        "bot/web.py",
        "        if not fresh:\n",
        "        if False:\n",
        "replay ledger not consulted",
        WEBHOOK,
    ),
    # --- bot/policy.py: who may spend the server's credits ---
    Mutant(
        "policy-thread-parent-ignored",
        "bot/policy.py",
        "place = {channel_id} if parent_channel_id is None else {channel_id, parent_channel_id}",
        "place = {channel_id}",
        "a thread no longer inherits its channel's place on the allow-list",
        POLICY,
    ),
    Mutant(
        "policy-roles-ignored",
        "bot/policy.py",
        "if settings.roles and not settings.roles & roles:",
        "if False:",
        "the role allow-list is not checked",
        POLICY,
    ),
    Mutant(
        "policy-everyone-setting-ignored",
        "bot/policy.py",
        "if not settings.buttons_for_everyone and job.requester_id != user_id:",
        "if job.requester_id != user_id:",
        "buttons are requester-only even where the server opened them to everyone",
        (*POLICY, "tests/e2e/test_buttons.py", "tests/e2e/test_reroll_delete.py"),
    ),
    # --- bot/jobs.py: starting jobs and pressing buttons ---
    Mutant(
        "jobs-banned-word-skipped",
        "bot/jobs.py",
        "        if prompt is not None:\n            policy.check_prompt(settings, prompt)\n",
        "",
        "banned-word check skipped on /imagine",
        POLICY,
    ),
    Mutant(
        "jobs-daily-limit-not-admitted",
        "bot/jobs.py",
        "if usage.active >= limits.active or usage.daily >= limits.daily:",
        "if usage.active >= limits.active:",
        "the daily limit is not checked before the command is acknowledged",
        POLICY,
    ),
    Mutant(
        "jobs-intent-unlimited",
        "bot/jobs.py",
        "            limits=limits,\n            reply=reply,\n",
        "            limits=None,\n            reply=reply,\n",
        "limits not checked atomically when the create is written down",
        (*POLICY, "tests/e2e/test_reroll_delete.py"),
    ),
    Mutant(
        "jobs-intent-left-on-refusal",
        "bot/jobs.py",
        "                if own:\n"
        "                    await self.store.drop_create_intent(intent)\n",
        "                if own:\n                    pass\n",
        "a create AKOOL refused leaves its intent behind (counted, later reported as lost)",
        ("tests/test_jobs.py", "tests/e2e/test_imagine.py", "tests/e2e/test_fair_use.py"),
    ),
    Mutant(
        "jobs-intent-uncapped",
        "bot/jobs.py",
        "        caps = policy.caps(self._caps, settings, now)\n",
        "        caps = None\n",
        "credit caps not checked atomically when the create is written down",
        ("tests/e2e/test_credit_caps.py", "tests/e2e/test_rules_on_every_path.py"),
    ),
    Mutant(
        "server-credit-limit-above-operator",
        "bot/server_settings.py",
        "if ceiling is not None and credits > ceiling:",
        "if False:",
        "a server's admins may raise its credit cap above the operator's",
        ("tests/e2e/test_credit_caps.py",),
    ),
    Mutant(
        "jobs-ambiguous-press-released",
        "bot/jobs.py",
        "            if button not in fresh.used_buttons:\n",
        "            if True:\n",
        "claim released after an ambiguous createbybutton failure",
        (*PRESSES, "tests/e2e/test_akool_faults.py"),
    ),
    Mutant(
        "jobs-refused-press-kept",
        "bot/jobs.py",
        "                await self.store.mark_akool_call(claimed.intent, at=None)\n"
        "                await self.store.release_press("
        "parent.akool_id, button, pressed_at=pressed_at)\n",
        "                await self.store.mark_akool_call(claimed.intent, at=None)\n",
        "a press AKOOL refused keeps the button blocked",
        PRESSES,
    ),
    Mutant(
        "jobs-used-elsewhere-released",
        "bot/jobs.py",
        "if exc.code in (1010, 1011):",
        "if False:",
        "a button used elsewhere (1010/1011) is released for another press",
        PRESSES,
    ),
    Mutant(
        "jobs-stale-claim-used-released",
        "bot/jobs.py",
        "        if press.button in fresh.used_buttons:\n            return False\n",
        "",
        "a stale claim is released although AKOOL did use the button",
        PRESSES,
    ),
    Mutant(
        "jobs-reroll-credited-to-requester",
        "bot/jobs.py",
        "origin = Origin(presser_id, grid.guild_id, here)",
        "origin = Origin(grid.requester_id, grid.guild_id, here)",
        "a re-roll is credited to the grid's requester, not to the member who pressed it",
        PRESSES,
    ),
    # --- cogs/buttons.py: what a press may do ---
    Mutant(
        "buttons-guild-check-dropped",
        "cogs/buttons.py",
        "if job is None or job.guild_id != interaction.guild_id:",
        "if job is None:",
        "guild check dropped from a button press",
        PRESSES,
    ),
    Mutant(
        "buttons-reroll-banned-word-skipped",
        "cogs/buttons.py",
        "            prompt=grid.prompt,\n",
        "            prompt=None,\n",
        "banned-word check skipped on re-roll",
        PRESSES,
    ),
    Mutant(
        "buttons-reroll-requester-only-skipped",
        "cogs/buttons.py",
        "        policy.check_may_press(admission.settings, grid, interaction.user.id)\n",
        "",
        "requester-only rule skipped on re-roll",
        PRESSES,
    ),
    Mutant(
        "buttons-press-requester-only-skipped",
        "cogs/buttons.py",
        "            policy.check_may_press(admission.settings, parent, interaction.user.id)\n",
        "",
        "requester-only rule skipped on U/V presses",
        PRESSES,
    ),
    Mutant(
        "buttons-press-not-limited",
        "cogs/buttons.py",
        "            policy.check_may_press(admission.settings, parent, interaction.user.id)\n"
        "            limits = admission.limits\n",
        "            policy.check_may_press(admission.settings, parent, interaction.user.id)\n",
        "a U/V press is not counted against the presser's limits",
        PRESSES,
    ),
    Mutant(
        "buttons-delete-by-anyone",
        "cogs/buttons.py",
        "return interaction.guild_id is not None and interaction.permissions.manage_messages",
        "return interaction.guild_id is not None",
        "any member may delete any post",
        PRESSES,
    ),
    Mutant(
        "buttons-post-here-other-server",
        "cogs/buttons.py",
        "if job is None or not belongs_here(interaction, job):",
        "if job is None:",
        "Post here re-posts another server's job",
        (*PRESSES, "tests/e2e/test_privacy.py", "tests/e2e/test_hostile.py"),
    ),
    # --- bot/imagine_options.py and cogs/imagine.py: /imagine's options ---
    Mutant(
        "imagine-similarity-without-image",
        "bot/imagine_options.py",
        "        if asked.similarity is not None:\n",
        "        if False:\n",
        "a similarity without an image reaches AKOOL (refused there, after the public defer)",
        IMAGINE_OPTIONS,
    ),
    Mutant(
        "imagine-original-without-image",
        "bot/imagine_options.py",
        "        if scale == ORIGINAL_SCALE:\n",
        "        if False:\n",
        "the Original aspect without an image is taken and fails after the public defer",
        IMAGINE_OPTIONS,
    ),
    Mutant(
        "imagine-v3-forced-not-asked",
        "bot/imagine_options.py",
        "    if not offers(made):\n",
        "    if False:\n",
        "with AKOOL_CREATE_API=v3, a v4 option is refused only after the public defer",
        IMAGINE_OPTIONS,
    ),
    Mutant(
        "imagine-negative-not-banned",
        "bot/imagine_options.py",
        "        check_negative(settings, negative)\n",
        "        pass\n",
        "a banned word in what to leave out goes to AKOOL",
        (*IMAGINE_OPTIONS, "tests/e2e/test_rules_on_every_path.py"),
    ),
    Mutant(
        "imagine-negative-dropped",
        "cogs/imagine.py",
        "            negative=negative,\n",
        "            negative=None,\n",
        "what the member asked to leave out never reaches AKOOL",
        IMAGINE_OPTIONS,
    ),
    # --- bot/batch_press.py: the buttons of a v4 batch's post ---
    Mutant(
        "batch-u-not-once",
        "bot/batch_press.py",
        "            if claim.won:\n                return None\n",
        "            if True:\n                return None\n",
        "every press of a batch's U n posts the image again",
        BATCH_PRESSES,
    ),
    Mutant(
        "batch-v-source-akool-link",
        "bot/batch_press.py",
        "order = variation_order(lead, image.link, similarity)",
        'order = variation_order(lead, image.job.image_url or "", similarity)',
        "a batch's V hands AKOOL its own link, dead after 7 days, not the one Discord keeps",
        BATCH_PRESSES,
    ),
    Mutant(
        "batch-v-similarity-ignored",
        "cogs/buttons.py",
        "            similarity = admission.settings.variation_similarity\n",
        "",
        "a batch's V ignores the server's similarity setting",
        BATCH_PRESSES,
    ),
    Mutant(
        "batch-u-no-banned-words",
        "cogs/buttons.py",
        "        policy.check_prompt(settings, lead.prompt)\n",
        "",
        "a batch's U n posts a prompt with a banned word again",
        BATCH_PRESSES,
    ),
    Mutant(
        "batch-variation-source-not-kept",
        "bot/batch_press.py",
        "        if image.attachment is not None:\n            # The variation's own",
        "        if False:\n            # The variation's own",
        "a variation's 🔄 cannot find the image it varied once its link expires",
        BATCH_PRESSES,
    ),
    # --- bot/kept_images.py and what keeps images (links that expire) ---
    Mutant(
        "reroll-source-stored-link",
        "bot/kept_images.py",
        "        return attachment.url, kept\n",
        "        return job.source_image, kept\n",
        "a re-roll hands AKOOL the source link stored at the command, long expired",
        ("tests/e2e/test_kept_images.py", "tests/e2e/test_reroll_delete.py"),
    ),
    Mutant(
        "reroll-source-gone-spends",
        "bot/kept_images.py",
        "        if attachment is None:\n            raise ImageGone(SOURCE_GONE)\n",
        "        if attachment is None:\n            return job.source_image, kept\n",
        "a re-roll whose kept source image was deleted asks AKOOL anyway",
        ("tests/e2e/test_kept_images.py",),
    ),
    Mutant(
        "repost-ignores-kept-image",
        "bot/notifier.py",
        "        image = await self._kept.result_image(job)\n",
        "        image = None\n",
        "Post here fetches AKOOL's link (dead after 7 days) instead of the post Discord keeps",
        ("tests/e2e/test_kept_images.py",),
    ),
    # --- cogs/jobs.py and bot/core.py ---
    Mutant(
        "status-other-server-shown",
        "cogs/jobs.py",
        "if stored is not None and not belongs_here(interaction, stored):",
        "if False:",
        "/status shows another server's job as stored",
        ("tests/e2e/test_privacy.py", "tests/e2e/test_jobs.py", "tests/e2e/test_hostile.py"),
    ),
    Mutant(
        "status-rules-skipped",
        "cogs/jobs.py",
        "        await self.bot.lookups.check_place(interaction)\n",
        "",
        "/status skips the channel and role rules of the channel it is used in",
        ("tests/e2e/test_rules_on_every_path.py",),
    ),
    Mutant(
        "client-default-mentions-removed",
        "bot/core.py",
        "            allowed_mentions=discord.AllowedMentions.none(),\n",
        "",
        "client default allowed_mentions removed",
        ("tests/e2e/test_hostile.py", "tests/test_bot.py", "tests/e2e/test_imagine.py"),
    ),
    # --- bot/notifier.py: every job posted exactly once ---
    Mutant(
        "notifier-margin-added",
        "bot/notifier.py",
        "return limit - _UPLOAD_MARGIN",
        "return limit + _UPLOAD_MARGIN",
        "upload margin added instead of subtracted",
        DELIVERY,
    ),
    Mutant(
        "notifier-nonce-not-sent",
        "bot/notifier.py",
        "            nonce=nonce_for(job),\n",
        "",
        "nonce not sent with the completion post",
        (*DELIVERY, "tests/e2e/test_crash.py"),
    ),
    Mutant(
        "notifier-dm-copy-on-retry",
        "bot/notifier.py",
        "if first and in_channel:",
        "if in_channel:",
        "a delivery that did not record the post sends the DM copy again",
        DELIVERY,
    ),
    Mutant(
        "notifier-rate-limit-given-up",
        "bot/notifier.py",
        "return exc.status >= 500 or exc.status in (401, 429)",
        "return exc.status >= 500",
        "a post refused for a rate limit or a reset token is given up instead of retried",
        DELIVERY,
    ),
    Mutant(
        "notifier-forbidden-not-dmed",
        "bot/notifier.py",
        "except (discord.Forbidden, discord.NotFound) as exc:",
        "except discord.NotFound as exc:",
        "a channel closed to the bot (403) is given up on instead of sending the post by DM",
        DELIVERY,
    ),
    Mutant(
        "notifier-everyone-pinged",
        "bot/notifier.py",
        "                everyone=False,\n"
        "                roles=False,\n"
        "                replied_user=False,\n"
        "                users=[discord.Object(u) for u in pings],\n",
        "                everyone=True,\n"
        "                roles=False,\n"
        "                replied_user=False,\n"
        "                users=[discord.Object(u) for u in pings],\n",
        "a completion post may ping @everyone from the prompt",
        (*DELIVERY, "tests/e2e/test_hostile.py"),
    ),
    Mutant(
        "notifier-batch-posted-unfinished",
        "bot/notifier.py",
        "        if not batch_render.Progress.of(batch).finished:\n",
        "        if False:\n",
        "a v4 batch is posted by its first finished image, before the others have finished",
        ("tests/e2e/test_v4_batches.py",),
    ),
    Mutant(
        "notifier-batch-nonce-of-image",
        "bot/notifier.py",
        "            message = await self._send(self._channel(lead), lead, kwargs, pings=pings)\n",
        "            message = await self._send(self._channel(lead), job, kwargs, pings=pings)\n",
        "a batch's post carries the nonce of the image delivering it, not the lead's",
        ("tests/e2e/test_v4_batches.py",),
    ),
    Mutant(
        "sqlite-batch-image-polled-while-waiting",
        "bot/store/sqlite.py",
        "UPDATE jobs SET due_at = NULL, claimed_until = NULL, woken = 0, updated_at = ?\n",
        "UPDATE jobs SET claimed_until = NULL, woken = 0, updated_at = ?\n",
        "a finished batch image waiting for its siblings stays due (looked at again and again)",
        ("tests/store/test_batches.py", "tests/e2e/test_v4_batches.py"),
    ),
    # --- bot/store: the database is the source of truth ---
    Mutant(
        "sqlite-status-not-forward-only",
        "bot/store/sqlite.py",
        "  AND (jobs.status_rank < v.status_rank OR jobs.status = v.status)\n",
        "",
        "forward-only status transition dropped (SQLite)",
        STORE,
    ),
    Mutant(
        "postgres-status-not-forward-only",
        "bot/store/postgres.py",
        "  AND (jobs.status_rank < v.status_rank OR jobs.status = v.status)\n",
        "",
        "forward-only status transition dropped (PostgreSQL)",
        STORE,
    ),
    Mutant(
        "sqlite-delivered-twice",
        "bot/store/sqlite.py",
        "    claimed_until = NULL, updated_at = ?\nWHERE akool_id = ? AND delivery = 'pending'\n"
        '"""\n\n_MARK_UNDELIVERABLE',
        '    claimed_until = NULL, updated_at = ?\nWHERE akool_id = ?\n"""\n\n_MARK_UNDELIVERABLE',
        "a second delivery of a job counts as the first (mark_delivered not pending-only)",
        (*STORE, "tests/e2e/test_notify.py"),
    ),
    Mutant(
        "sqlite-every-press-wins",
        "bot/store/sqlite.py",
        "ON CONFLICT (parent_akool_id, button) DO NOTHING",
        "ON CONFLICT (parent_akool_id, button) DO UPDATE SET presser_id = excluded.presser_id",
        "every press of a button wins its claim (SQLite)",
        (*STORE, "tests/e2e/test_buttons.py"),
    ),
    Mutant(
        "postgres-every-press-wins",
        "bot/store/postgres.py",
        "ON CONFLICT (parent_akool_id, button) DO NOTHING",
        "ON CONFLICT (parent_akool_id, button) DO UPDATE SET presser_id = excluded.presser_id",
        "every press of a button wins its claim (PostgreSQL)",
        STORE,
    ),
    Mutant(
        "sqlite-replay-seen-as-new",
        "bot/store/sqlite.py",
        "ON CONFLICT (signature) DO NOTHING",
        "ON CONFLICT (signature) DO UPDATE SET seen_at = excluded.seen_at",
        "replay ledger forgets: a repeated webhook signature counts as first seen",
        STORE + WEBHOOK,
    ),
    Mutant(
        "sqlite-limits-not-atomic",
        "bot/store/sqlite.py",
        "        if limits is None and caps is None:\n            row = await self._fetch_one(",
        "        if True:\n            row = await self._fetch_one(",
        "limits not checked atomically in add_create_intent (SQLite)",
        (*STORE, "tests/e2e/test_fair_use.py"),
    ),
    Mutant(
        "sqlite-dead-answerers-hold-kept",
        "bot/store/sqlite.py",
        "            await connection.execute(_RELEASE_ANSWERS)\n",
        "",
        "a lost command a killed process was answering waits out its hold after the restart",
        (*STORE, "tests/e2e/test_crash_window.py"),
    ),
    Mutant(
        "postgres-member-lock-dropped",
        "bot/store/postgres.py",
        '        keys.append(f"limits:{guild_id}:{requester_id}")\n',
        "        pass\n",
        "two processes can both slip under a member's limit (advisory lock dropped)",
        STORE,
    ),
    Mutant(
        "postgres-cap-locks-dropped",
        "bot/store/postgres.py",
        '        keys.append("caps:account")\n',
        "        pass\n",
        "two processes can both slip under the account's credit cap (advisory lock dropped)",
        STORE,
    ),
    Mutant(
        "sqlite-account-cap-unchecked",
        "bot/store/sqlite.py",
        "          + (SELECT cost FROM this) <= :account)",
        "          + (SELECT cost FROM this) <= :account OR 1)",
        "the account's credit cap is not checked when the create is written down (SQLite)",
        (*STORE, "tests/e2e/test_credit_caps.py"),
    ),
    Mutant(
        "sqlite-unfinished-jobs-not-held",
        "bot/store/sqlite.py",
        "        CASE WHEN j.credits IS NULL AND j.status_rank < 3\n",
        "        CASE WHEN 0\n",
        "unfinished jobs AKOOL reported no credits for hold nothing against the caps",
        (*STORE, "tests/e2e/test_credit_caps.py"),
    ),
    Mutant(
        "postgres-claims-not-skip-locked",
        "bot/store/postgres.py",
        "    LIMIT $2\n    FOR UPDATE SKIP LOCKED\n",
        "    LIMIT $2\n",
        "two processes can claim the same due job",
        STORE,
    ),
    Mutant(
        "postgres-new-job-not-announced",
        "bot/store/postgres.py",
        "            await self._announce(self._pool)\n            return rows.job(row), True\n",
        "            return rows.job(row), True\n",
        "a new job does not wake the other processes",
        STORE,
    ),
    Mutant(
        "job-loop-reclaim-not-chained",
        "bot/job_loop.py",
        "        if before is None and job.akool_id not in self._done_meanwhile:\n",
        "        if True:\n",
        "a job claimed again while its delivery is under way is delivered a second time",
        ("tests/test_job_loop.py",),
    ),
    Mutant(
        "sqlite-dead-holder-never-due",
        "bot/store/sqlite.py",
        "UPDATE jobs SET claimed_until = :until, due_at = :until, woken = 0\nWHERE id IN (",
        "UPDATE jobs SET claimed_until = :until, due_at = NULL, woken = 0\nWHERE id IN (",
        "a claimed job whose holder dies never comes due again",
        STORE,
    ),
    Mutant(
        "sqlite-history-across-servers",
        "bot/store/sqlite.py",
        "WHERE guild_id IS ? AND requester_id = ? AND akool_id LIKE ? ESCAPE",
        "WHERE ? IS NOT NULL AND requester_id = ? AND akool_id LIKE ? ESCAPE",
        "a member's history and autocomplete list their jobs from other servers",
        (*STORE, "tests/e2e/test_history.py"),
    ),
    Mutant(
        "metrics-token-prefix-accepted",
        "bot/metrics.py",
        '        return hmac.compare_digest(expected, (header or "").encode())\n',
        '        return (header or "").encode().startswith(expected)\n',
        "a scrape with the token and anything after it is let in",
        METRICS,
    ),
    Mutant(
        "metrics-failures-counted-as-finished",
        "bot/metrics.py",
        "(self._finished if after.status is JobStatus.COMPLETED else self._failed)",
        "self._finished",
        "a failed job counts as finished",
        METRICS,
    ),
    Mutant(
        "metrics-poll-dated-from-creation",
        "bot/metrics.py",
        'source, ended = "poll", before.updated_at',
        'source, ended = "poll", before.created_at',
        "a polled job's end is dated from its creation: its whole life counts as delay",
        METRICS,
    ),
    Mutant(
        "metrics-webhook-verdict-lost",
        "bot/web.py",
        "            self._metrics.webhook(exc.verdict)\n",
        '            self._metrics.webhook("rejected")\n',
        "every refused callback is counted alike: a forged signature is not told apart",
        METRICS,
    ),
    Mutant(
        "metrics-transport-outcome-lost",
        "bot/akool/client.py",
        '                cause=f"http_{status}",\n',
        "",
        "an AKOOL answer that is not JSON is not counted by its HTTP status",
        METRICS,
    ),
    Mutant(
        "json-logs-scrubbed-after-encoding",
        "bot/logs.py",
        "        scrubbed = {key: self._scrub(value) for key, value in line.items()}\n"
        "        return json.dumps(scrubbed, ensure_ascii=False)\n",
        "        return self._scrub(json.dumps(line, ensure_ascii=False))\n",
        "a secret JSON escapes (a quote, a backslash) escapes the scrubbing of JSON lines",
        LOGS,
    ),
    Mutant(
        "json-logs-job-context-lost",
        "bot/job_loop.py",
        "        with logs.context(**logs.about(job)):\n",
        "        with logs.context():\n",
        "the job loop's lines do not name their job, server, channel and member",
        LOGS,
    ),
    Mutant(
        "json-logs-interaction-context-lost",
        "bot/interaction_guard.py",
        "            with logs.context(**_who_and_where(payload)):\n",
        "            with logs.context():\n",
        "lines logged in a member's command or press do not name them",
        LOGS,
    ),
    # --- running it: backups, start-up errors, the log scrubber ---
    Mutant(
        "backup-copies-the-file",
        "bot/store/backup.py",
        "                src.backup(dst, pages=-1)\n",
        "                dst.close()\n"
        '                __import__("shutil").copyfile(source, target)\n'
        "                dst = sqlite3.connect(target)\n",
        "a backup copies the database file and misses what is still in the write-ahead log",
        ("tests/e2e/test_backup.py",),
    ),
    Mutant(
        "backup-overwrites",
        "bot/store/backup.py",
        "os.O_WRONLY | os.O_CREAT | os.O_EXCL",
        "os.O_WRONLY | os.O_CREAT | os.O_TRUNC",
        "a backup replaces an existing file (racing the exists check, or without it)",
        ("tests/test_cli.py",),
    ),
    Mutant(
        "startup-discord-unexplained",
        "bot/runner.py",
        "        line = startup.discord_failure(exc)\n",
        "        line = None\n",
        "Discord failing at start-up (unknown host, refused, token) ends in a traceback",
        ("tests/test_startup.py",),
    ),
    Mutant(
        "scrubber-short-secrets",
        "bot/logs.py",
        "MIN_SECRET_LENGTH: Final = 8",
        "MIN_SECRET_LENGTH: Final = 4",
        "a short password that is also a word is scrubbed from every line (logger names too)",
        ("tests/test_logs.py",),
    ),
    # --- bot/check: the operator's checklist tells the truth and changes nothing ---
    Mutant(
        "check-guild-permissions-only",
        "bot/check/discord_side.py",
        "permissions = channel.permissions_for(me)",
        "permissions = me.guild_permissions",
        "the check ignores channel overwrites when it judges a channel",
        CHECK,
    ),
    Mutant(
        "check-any-200-passes-the-webhook",
        "bot/check/webhook_side.py",
        'if status == 200 and answer and answer.get("_id") == job_id:',
        "if status == 200:",
        "any server answering 200 passes for the bot's webhook receiver",
        CHECK,
    ),
    Mutant(
        "check-sqlite-store-not-read-only",
        "bot/store/sqlite.py",
        "        if read_only:\n            connection = await _connect_read_only(path)\n",
        "        if False:\n            connection = await _connect_read_only(path)\n",
        "the check opens the SQLite store for writing and migrates it",
        (*CHECK, "tests/store/test_schema_state.py"),
    ),
    Mutant(
        "check-test-callback-reaches-the-loop",
        "bot/web.py",
        "        if is_test_callback(event.job_id):\n",
        "        if False:\n",
        "the receiver treats the check's test callback as a job's",
        (*CHECK, *WEBHOOK),
    ),
    # --- bot/akool and bot/create_api.py: v4, and never switching APIs on an ordinary error ---
    Mutant(
        "v3-gone-on-any-404",
        "bot/akool/gone.py",
        "        return code is None or code not in DOCUMENTED_CODES",
        "        return True",
        "a 404 carrying one of AKOOL's own codes switches the bot to v4 for good",
        CREATE_API,
    ),
    Mutant(
        "v3-gone-reads-the-prompt",
        "bot/akool/client.py",
        'quoted=(prompt, source_image or ""),',
        "quoted=(),",
        "an error quoting a member's prompt ('deprecated') switches the bot to v4 for good",
        CREATE_API,
    ),
    Mutant(
        "v3-gone-on-passing-outage",
        "bot/akool/gone.py",
        "    return bool(_ENDPOINT_UNAVAILABLE.search(text)) and not _PASSING.search(text)",
        "    return bool(_ENDPOINT_UNAVAILABLE.search(text))",
        "'temporarily unavailable, try again later' switches the bot to v4 for good",
        CREATE_API,
    ),
    Mutant(
        "v4-webhook-camel-case",
        "bot/akool/source_prompt.py",
        'body["webhookurl"] = self.webhook_url',
        'body["webhookUrl"] = self.webhook_url',
        "v4 jobs never call back: the v3 spelling of the callback field",
        CREATE_API,
    ),
    Mutant(
        "v4-create-resent",
        "bot/akool/client.py",
        "data = await self._create(SOURCE_PROMPT_PATH, request.body())",
        "data = await self._read(SOURCE_PROMPT_PATH, None)",
        "a v4 create is resent after a timeout (paying twice) and loses its body",
        CREATE_API,
    ),
    Mutant(
        "create-api-switches-when-forced",
        "bot/create_api.py",
        "            if self._mode != AUTO:\n                raise\n",
        "",
        "AKOOL_CREATE_API=v3 still switches to v4 on its own",
        CREATE_API,
    ),
    Mutant(
        "create-api-forgets-the-switch",
        "bot/create_api.py",
        "        if not self._v3_gone and await self._store.v3_create_gone():",
        "        if False:",
        "after a restart (or in another process) every job asks the retired v3 first",
        CREATE_API,
    ),
    # --- bot/budget.py: the AKOOL request budget ---
    Mutant(
        "budget-burst-of-one",
        "bot/budget.py",
        "return max(MIN_BURST, per_second * BURST_SECONDS)",
        "return max(1, per_second * BURST_SECONDS)",
        "a request let go late (a busy loop) pushes every later slot back: fewer requests a second",
        BUDGET,
    ),
    Mutant(
        "budget-reserve-unused",
        "bot/budget.py",
        "            self._pump.cancel()\n            self._start_pump()\n",
        "            pass\n",
        "a create or a callback's confirming poll waits for the next slot while polls queue",
        BUDGET,
    ),
    Mutant(
        "safety-net-ignores-running-jobs",
        "bot/schedule.py",
        "first = _finished_by(finished, self._running, _SAFETY_QUANTILE)",
        "first = _finished_by(finished, [], _SAFETY_QUANTILE)",
        "the safety net's first look is judged from the quick jobs that finished first",
        SCHEDULE,
    ),
    Mutant(
        "running-ages-never-read",
        "bot/job_loop.py",
        "self.schedule.running(await self._store.running_ages(now, _RUNNING_SAMPLES))",
        "self.schedule.running([])",
        "the schedule never hears of the jobs still running",
        SCHEDULE,
    ),
    Mutant(
        "running-ages-count-tracked-jobs",
        "bot/store/sqlite.py",
        "WHERE status_rank < 3 AND kind != 'track'\nORDER BY created_at DESC",
        "WHERE status_rank < 3\nORDER BY created_at DESC",
        "a tracked job's age, from an unknown start, counts as a running job's",
        SCHEDULE,
    ),
    Mutant(
        "stop-closes-under-answers",
        "bot/core.py",
        "        await self.in_flight.settle(grace=deadline - loop.time())\n",
        "",
        "a stop closes the HTTP session and the store under the members being answered",
        STOP,
    ),
    Mutant(
        "stop-forgets-presses",
        "bot/components.py",
        "        in_flight.track(interaction)\n        # A press from a server",
        "        # A press from a server",
        "a stop does not wait for a press being answered",
        STOP,
    ),
    Mutant(
        "stop-waits-forever",
        "bot/in_flight.py",
        "                async with asyncio.timeout(max(grace, 0.0)):\n"
        "                    await self._idle.wait()",
        "                await self._idle.wait()",
        "a stop waits for an answer that never ends",
        STOP,
    ),
    Mutant(
        "budget-reserve-taken-by-polls",
        "bot/budget.py",
        "self._pump_headroom = 0 if self._queues[RequestKind.URGENT] else self._reserve",
        "self._pump_headroom = 0",
        "polls use up the slot kept for urgent requests",
        BUDGET,
    ),
)
