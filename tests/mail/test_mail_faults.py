"""Faults: the server down then up, 451 then 250, 550 with the admin
notice, a refused recipient among good ones, SIGKILL in the middle of a
send, bad jobs, giving up after max_age, a connection the server closed.
Nothing is ever lost: each job is delivered or ends in failed/."""
import os
import signal
import time

import pytest

from mailtools import SmtpServer, free_port, parts, wait_for

pytestmark = pytest.mark.slow


def test_server_down_when_the_job_arrives_then_up(mailers, files):
    port = free_port()
    m = mailers(port).start()
    job = m.enqueue("a@example.com", "sunucu kapalı", text=files("t", "x"))
    assert wait_for(lambda: "last_error" in m.state("outbox", job))
    st = m.state("outbox", job)
    assert st["message_id"].startswith("<") and "next_attempt" in st
    assert "delivery deferred" in m.daemon_log()
    server = SmtpServer(port).start()
    try:
        assert server.wait_count(1, timeout=15)
        assert str(server.received[0].msg["Subject"]) == "sunucu kapalı"
        assert server.received[0].message_id == st["message_id"]
        assert wait_for(lambda: m.jobs("sent") == [job])
    finally:
        m.stop()
        server.stop()


def test_451_then_250(smtp, mailers, files):
    smtp.handler.data_replies = ["451 4.3.0 try again later"]
    m = mailers(smtp.port).start()
    job = m.enqueue("a@example.com", "geçici hata", text=files("t", "x"))
    assert smtp.wait_count(1, timeout=15)
    assert wait_for(lambda: m.jobs("sent") == [job])
    assert m.state("sent", job)["attempts"] == "2"
    assert "451 4.3.0 try again later" in m.daemon_log()
    assert m.jobs("failed") == []
    m.stop()


def test_550_fails_at_once_and_notifies_the_admin(smtp, mailers, files):
    smtp.handler.rcpt_replies["nobody@example.com"] = \
        "550 5.1.1 no such user"
    m = mailers(smtp.port).start()
    job = m.enqueue("nobody@example.com", "Tedarikçi bakiyeleri",
                    text=files("t", "x"))
    assert smtp.wait_count(1, timeout=10)
    notice = smtp.received[0]
    assert notice.rcpt_tos == ["it@example.com"]
    assert "Tedarikçi bakiyeleri" in str(notice.msg["Subject"])
    body = parts(notice.msg)["text"]
    assert job in body and "550 5.1.1 no such user" in body
    assert wait_for(lambda: m.jobs("failed") == [job])
    assert "550 5.1.1 no such user" in m.reason(job)
    assert m.state("failed", job)["attempts"] == "1"
    # one notice only, and the job was tried once
    time.sleep(1.5)
    assert len(smtp.received) == 1
    assert m.jobs("sent") == [job + ".notice"]
    m.stop()


def test_no_notice_about_a_notice(smtp, mailers, files):
    smtp.handler.rcpt_replies["nobody@example.com"] = "550 5.1.1 no user"
    smtp.handler.rcpt_replies["it@example.com"] = "550 5.1.1 no admin"
    m = mailers(smtp.port).start()
    job = m.enqueue("nobody@example.com", "x", text=files("t", "x"))
    assert wait_for(lambda: len(m.jobs("failed")) == 2, timeout=10)
    time.sleep(1.5)
    assert m.jobs("failed") == [job, job + ".notice"]
    assert m.jobs("outbox") == [] and smtp.received == []
    m.stop()


def test_a_refused_recipient_does_not_block_the_others(smtp, mailers,
                                                        files):
    smtp.handler.rcpt_replies["bad@example.com"] = "550 5.1.1 no such user"
    m = mailers(smtp.port).start()
    job = m.enqueue("good@example.com, bad@example.com", "kısmi",
                    text=files("t", "x"))
    assert smtp.wait_count(2, timeout=10)
    got = {tuple(r.rcpt_tos): r for r in smtp.received}
    assert ("good@example.com",) in got
    notice = got[("it@example.com",)]
    assert "bad@example.com" in parts(notice.msg)["text"]
    assert wait_for(lambda: job in m.jobs("sent"))
    m.stop()


def test_sigkill_in_the_middle_of_a_send(smtp, mailers, files):
    """Killed while the server holds its answer to DATA: restarted, the
    mailer sends the job again with the same Message-ID."""
    smtp.handler.data_delay = 30
    m = mailers(smtp.port).start()
    job = m.enqueue("a@example.com", "yarıda", body=files("b.html", "<p>x"),
                    attach=[files("rapor.xlsx", os.urandom(200000))])
    assert smtp.handler.data_started.wait(10)
    m.kill()
    assert m.jobs("outbox") == [job]
    first_id = m.state("outbox", job)["message_id"]
    smtp.handler.data_delay = 0
    m.start()
    assert wait_for(lambda: m.jobs("sent") == [job], timeout=15)
    ids = {r.message_id for r in smtp.received}
    assert ids == {first_id}
    assert len(smtp.received) >= 1
    att = parts(smtp.received[-1].msg)["attachments"]
    assert att[0][0] == "rapor.xlsx" and len(att[0][2]) == 200000
    m.stop()


def test_sigterm_lets_a_message_under_way_finish(smtp, mailers, files):
    smtp.handler.data_delay = 2
    m = mailers(smtp.port).start()
    job = m.enqueue("a@example.com", "bitir", text=files("t", "x"))
    assert smtp.handler.data_started.wait(10)
    m.proc.send_signal(signal.SIGTERM)
    assert m.proc.wait(timeout=20) == 0
    assert m.jobs("sent") == [job] and len(smtp.received) == 1


def test_sigkill_at_random_points_loses_nothing(smtp, mailers, files):
    """Many jobs, the mailer killed again and again: every job arrives
    (at least once) and ends in sent/."""
    m = mailers(smtp.port)
    jobs = [m.enqueue("a@example.com", f"iş {i}",
                      text=files(f"t{i}", "x" * 2000)) for i in range(40)]
    for delay in (0.05, 0.1, 0.15, 0.2, 0.3):
        m.start(debug=False)
        time.sleep(delay)
        m.kill()
    m.start()
    assert wait_for(lambda: len(m.jobs("sent")) == 40, timeout=30)
    m.stop()
    assert sorted(m.jobs("sent")) == sorted(jobs)
    got = {str(r.msg["Subject"]) for r in smtp.received}
    assert got == {f"iş {i}" for i in range(40)}


def test_bad_jobs_fail_with_a_reason_and_the_mailer_goes_on(smtp, mailers,
                                                              files):
    m = mailers(smtp.port, mailer_extra="max_size = 10k")
    m.start()
    good = "[job]\nto = a@example.com\nsubject = {}\ntext = t.txt\n"
    m.write_job("bad-ini", "[job]\nto a@example.com\n", {})
    m.write_job("bad-key", good.format("k") + "color = red\n",
                {"t.txt": b"x"})
    m.write_job("no-attachment", good.format("a") + "attach = yok.xlsx\n",
                {"t.txt": b"x"})
    m.write_job("too-big", good.format("b") + "attach = big.bin\n",
                {"t.txt": b"x", "big.bin": os.urandom(20000)})
    m.write_job("bad-address", "[job]\nto = a@@example\nsubject = s\n"
                "text = t.txt\n", {"t.txt": b"x"})
    m.write_job("escape", good.format("e") + "attach = ../x\n",
                {"t.txt": b"x"})
    m.write_job("in-place", good.format("p"), {"t.txt": b"x"},
                in_place=True)
    with open(m.path("outbox", "stray.txt"), "w") as f:
        f.write("not a job")
    m.write_job("good", good.format("iyi"), {"t.txt": b"x"})
    bad = ["bad-address", "bad-ini", "bad-key", "escape", "in-place",
           "no-attachment", "stray.txt", "too-big"]
    assert wait_for(lambda: m.jobs("failed") == bad, timeout=15), \
        m.jobs("failed")
    reasons = {j: m.reason(j) for j in bad if j != "stray.txt"}
    assert "no '='" in reasons["bad-ini"]
    assert "unknown key" in reasons["bad-key"]
    assert "missing file \"yok.xlsx\"" in reasons["no-attachment"]
    assert "max_size" in reasons["too-big"]
    assert "bad address" in reasons["bad-address"]
    assert "plain file name" in reasons["escape"]
    assert "in place" in reasons["in-place"]
    assert wait_for(lambda: "good" in m.jobs("sent"))
    assert os.path.isfile(m.path("failed", "stray.txt"))
    # eight notices and the good job
    assert smtp.wait_count(9, timeout=15)
    assert sum(1 for r in smtp.received
               if r.rcpt_tos == ["it@example.com"]) == 8
    m.stop()


def test_a_folder_without_job_ini_fails_after_the_grace(smtp, mailers):
    m = mailers(smtp.port)
    os.makedirs(m.path("outbox", "half"))
    os.makedirs(m.path("outbox", "fresh"))
    old = time.time() - 120
    os.utime(m.path("outbox", "half"), (old, old))
    r = m.once()
    assert r.returncode == 75  # "fresh" still waits for its job.ini
    assert m.jobs("failed") == ["half"]
    assert "incomplete" in m.reason("half")
    assert m.jobs("outbox") == ["fresh"]


def test_gives_up_after_max_age(mailers, files):
    port = free_port()
    m = mailers(port, mailer_extra="max_age = 3")
    job = m.enqueue("a@example.com", "vazgeç", text=files("t", "x"))
    m.start()
    assert wait_for(lambda: job in m.jobs("failed"), timeout=20)
    assert "gave up after" in m.reason(job)
    assert int(m.state("failed", job)["attempts"]) >= 2
    m.stop()


def test_queue_lists_waiting_and_failed(mailers, files):
    m = mailers(free_port())
    job = m.enqueue("a@example.com", "bekliyor", text=files("t", "x"))
    m.once()
    m.write_job("broken", "[job]\nnonsense\n")
    m.once()
    out = m.run("--queue").stdout.decode()
    assert f"waiting  {job}" in out and "subject bekliyor" in out
    assert "last error:" in out
    assert "failed   broken" in out and "reason:" in out
    # the admin notice about "broken" waits too, with the server down
    assert "waiting  broken.notice" in out
    assert "2 waiting, 1 failed" in out


def test_requeue_sends_a_failed_job_again(smtp, mailers, files):
    smtp.handler.rcpt_replies["a@example.com"] = "550 5.7.1 not now"
    m = mailers(smtp.port)
    job = m.enqueue("a@example.com", "tekrar", text=files("t", "x"))
    m.once()
    assert job in m.jobs("failed")
    del smtp.handler.rcpt_replies["a@example.com"]
    m.run("--requeue", job)
    assert job in m.jobs("outbox")
    m.once()
    assert job in m.jobs("sent")
    assert any(str(r.msg["Subject"]) == "tekrar" for r in smtp.received)


def test_a_connection_the_server_closed_is_replaced(mailers, files):
    server = SmtpServer(timeout=1).start()
    try:
        m = mailers(server.port).start()
        m.enqueue("a@example.com", "bir", text=files("t1", "x"))
        assert server.wait_count(1)
        time.sleep(2.5)  # the server drops the idle connection
        data = os.urandom(300000)
        m.enqueue("a@example.com", "iki", text=files("t2", "x"),
                  attach=[files("ek.pdf", data)])
        assert server.wait_count(2, timeout=5)
        assert "delivery deferred" not in m.daemon_log()
        att = parts(server.received[1].msg)["attachments"]
        assert att == [("ek.pdf", "application/pdf", data)]
        m.stop()
    finally:
        server.stop()


def test_a_connection_lost_at_reuse_is_replaced_at_once(smtp, mailers,
                                                        files):
    """The kept connection dies without a word when the next mail starts:
    the mailer connects again and sends the whole message, attachment
    read again from its start, without deferring it."""
    smtp.handler.drop_reused = 1
    m = mailers(smtp.port).start()
    m.enqueue("a@example.com", "bir", text=files("t1", "x"))
    assert smtp.wait_count(1)
    data = os.urandom(300000)
    job = m.enqueue("a@example.com", "iki", text=files("t2", "x"),
                    attach=[files("ek.pdf", data)])
    assert smtp.wait_count(2, timeout=5)
    assert wait_for(lambda: job in m.jobs("sent"))
    assert "kept connection lost, reconnecting" in m.daemon_log()
    assert "delivery deferred" not in m.daemon_log()
    att = parts(smtp.received[1].msg)["attachments"]
    assert att == [("ek.pdf", "application/pdf", data)]
    assert len(smtp.handler.connections) == 2
    m.stop()


def test_one_connection_for_many_jobs(smtp, mailers, files):
    m = mailers(smtp.port)
    for i in range(10):
        m.enqueue("a@example.com", f"{i}", text=files(f"t{i}", "x"))
    m.once()
    assert len(smtp.received) == 10
    assert len(smtp.handler.connections) == 1
