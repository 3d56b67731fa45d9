"""The mailer delivers real MIME messages to a real SMTP server: Turkish
headers and names, HTML with a text alternative, attachments with their
bytes and media types, by inotify, at start-up, and 200 at once."""
import os
import signal
import time

from mailtools import parts, wait_for

SUBJECT = "Tedarikçi bakiyeleri — 03.12.2026"
XLSX_NAME = "Müşteri yaşlandırma İSTANBUL ğüşıöç.xlsx"
HTML = ("<html><body><h1>Tedarikçi bakiyeleri</h1>"
        "<p>Merhaba, rapor ekte.</p>"
        "<table><tr><td>S001</td><td>Şirket A.Ş.</td></tr></table>"
        "</body></html>\n")

ATTACHMENTS = {
    XLSX_NAME: ("application/vnd.openxmlformats-officedocument."
                "spreadsheetml.sheet", b"PK\x03\x04" + os.urandom(3000)),
    "Tedarikçi bakiyeleri.csv": ("text/csv",
                                 "\ufeffKod;Ad\r\nS001;Şirket\r\n"
                                 .encode()),
    "bakiye.json": ("application/json", b'[{"kod": "S001"}]\n'),
    "rapor.html": ("text/html", HTML.encode()),
    "özet.pdf": ("application/pdf", b"%PDF-1.4\n" + os.urandom(2000)),
    "grafik.png": ("image/png", b"\x89PNG\r\n\x1a\n" + os.urandom(500)),
    "ürün.jpg": ("image/jpeg", b"\xff\xd8\xff\xe0" + os.urandom(500)),
}


def test_turkish_message_with_html_text_and_attachments(smtp, mailers,
                                                          files):
    m = mailers(smtp.port)
    body = files("body.html", HTML)
    attach = [files(n, data) for n, (_, data) in ATTACHMENTS.items()]
    job = m.enqueue("Ayşe Yılmaz <ayse@example.com>, ali@example.com",
                    SUBJECT, body=body, attach=attach,
                    extra=["--cc", "\"Öztürk, Gül\" <gul@example.com>",
                           "--bcc", "gizli@example.com",
                           "--reply-to", "finans@example.com"])
    assert job in m.jobs("outbox")
    m.once()
    assert smtp.wait_count(1)
    got = smtp.received[0]
    msg = got.msg

    assert str(msg["Subject"]) == SUBJECT
    assert msg["From"].addresses[0].display_name == "Raporlar Şube"
    assert msg["From"].addresses[0].addr_spec == "raporlar@example.com"
    to = {(a.display_name, a.addr_spec) for a in msg["To"].addresses}
    assert to == {("Ayşe Yılmaz", "ayse@example.com"),
                  ("", "ali@example.com")}
    assert msg["Cc"].addresses[0].display_name == "Öztürk, Gül"
    assert msg["Reply-To"].addresses[0].addr_spec == "finans@example.com"
    # Bcc is in the envelope only
    assert msg["Bcc"] is None and b"gizli" not in got.raw
    assert sorted(got.rcpt_tos) == sorted([
        "ayse@example.com", "ali@example.com", "gul@example.com",
        "gizli@example.com"])
    assert got.mail_from == "raporlar@example.com"
    assert msg["Date"] is not None and msg["Message-ID"].startswith("<")
    assert msg.get_content_type() == "multipart/mixed"

    p = parts(msg)
    assert p["html"] == HTML.replace("\n", "\r\n") or \
        p["html"].replace("\r\n", "\n") == HTML
    assert "Merhaba, rapor ekte." in p["text"]
    assert "Şirket A.Ş." in p["text"] and "<td>" not in p["text"]
    got_att = {name: (ctype, data) for name, ctype, data in p["attachments"]}
    assert set(got_att) == set(ATTACHMENTS)
    for name, (ctype, data) in ATTACHMENTS.items():
        assert got_att[name] == (ctype, data), name

    assert m.jobs("outbox") == [] and m.jobs("sent") == [job]
    assert m.state("sent", job)["message_id"] == msg["Message-ID"]


def test_header_lines_and_encoded_words_keep_limits(smtp, mailers, files):
    """Every line holding encoded words or RFC 2231 pieces fits 78
    columns; every encoded word is at most 75 characters and decodes on
    its own to whole UTF-8 characters."""
    import email.header
    import re
    m = mailers(smtp.port)
    long_subject = ("Aylık müşteri yaşlandırma ve tedarikçi bakiyeleri "
                    "raporu — İSTANBUL, İZMİR, ŞIRNAK, ÇANAKKALE, MUĞLA "
                    "şubeleri için ığüşöç ĞÜŞİÖÇ özet — 03.12.2026")
    name = "Çok uzun bir dosya adı: müşteri yaşlandırma İSTANBUL ğüşıöç " \
           "şubeleri ve tedarikçi bakiyeleri.xlsx".replace(":", "")
    m.enqueue("a@example.com", long_subject, text=files("t.txt", "x\n"),
              attach=[files(name, b"data")])
    m.once()
    assert smtp.wait_count(1)
    raw = smtp.received[0].raw
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    # the lines the mailer encodes (libcurl writes Content-Type lines)
    ours = [line for line in raw.decode("ascii").split("\r\n")
            if "=?UTF-8?" in line or line.startswith(" filename*")]
    assert len(ours) > 5
    for line in ours:
        assert len(line) <= 78, line
    subject = re.search(r"^Subject:(.*?)\r\n(?=\S)", head + "\r\nX",
                        re.S | re.M).group(1)
    words = re.findall(r"=\?UTF-8\?B\?[^?]*\?=", subject)
    assert len(words) > 2
    for w in words:
        assert len(w) <= 75
        (data, charset), = email.header.decode_header(w)
        data.decode("utf-8")  # raises if a character was split
    decoded = str(email.header.make_header(email.header.decode_header(
        subject.replace("\r\n", ""))))
    assert decoded == long_subject
    msg = smtp.received[0].msg
    assert str(msg["Subject"]) == long_subject
    assert [n for n, _, _ in parts(msg)["attachments"]] == [name]


def test_text_file_is_the_alternative(smtp, mailers, files):
    m = mailers(smtp.port)
    m.enqueue("a@example.com", "text", body=files("b.html", "<p>HTML</p>"),
              text=files("t.txt", "Düz metin satırı\nikinci satır\n"))
    m.once()
    assert smtp.wait_count(1)
    p = parts(smtp.received[0].msg)
    assert p["text"].replace("\r\n", "\n") == \
        "Düz metin satırı\nikinci satır\n"
    assert "HTML" in p["html"]


def test_text_only_from_standard_input(smtp, mailers):
    m = mailers(smtp.port)
    m.run("--enqueue", "--to", "a@example.com", "--subject", "stdin",
          input="Merhaba dünya\n".encode())
    m.once()
    assert smtp.wait_count(1)
    msg = smtp.received[0].msg
    assert msg.get_content_type() == "multipart/mixed"
    assert parts(msg)["text"].strip() == "Merhaba dünya"
    assert parts(msg)["html"] is None


def test_inotify_wakes_the_mailer(smtp, mailers, files):
    m = mailers(smtp.port).start()
    time.sleep(0.3)
    t0 = time.time()
    m.enqueue("a@example.com", "hemen", text=files("t.txt", "x"))
    # the periodic rescan is a minute away: only inotify can be this fast
    assert smtp.wait_count(1, timeout=5)
    assert smtp.received[0].when - t0 < 2
    assert m.stop() == 0


def test_job_written_like_design_says(smtp, mailers):
    """A job folder as DESIGN shows it, written by another program into
    tmp/ and renamed into outbox/ while the mailer runs."""
    m = mailers(smtp.port).start()
    ini = ("[job]\n"
           "to = finans@example.com, muhasebe@example.com\n"
           "cc =\n"
           f"subject = {SUBJECT}\n"
           "body = body.html\n"
           "attach = Tedarikçi bakiyeleri.xlsx    ; one attach line per "
           "file\n"
           "attach = Tedarikçi bakiyeleri.csv\n")
    m.write_job("20261203-0700-tedarikci", ini, {
        "body.html": HTML.encode(),
        "Tedarikçi bakiyeleri.xlsx": b"PK xlsx",
        "Tedarikçi bakiyeleri.csv": b"a;b\r\n"})
    assert smtp.wait_count(1, timeout=5)
    msg = smtp.received[0].msg
    assert str(msg["Subject"]) == SUBJECT
    names = sorted(n for n, _, _ in parts(msg)["attachments"])
    assert names == ["Tedarikçi bakiyeleri.csv", "Tedarikçi bakiyeleri.xlsx"]
    assert wait_for(lambda: m.jobs("sent") == ["20261203-0700-tedarikci"])
    m.stop()


def test_quoted_values_keep_semicolons(smtp, mailers, files):
    m = mailers(smtp.port)
    subject = "Kâr ; zarar # özet \"Q4\"  "
    m.enqueue("a@example.com", subject, text=files("t.txt", "x"))
    m.once()
    assert smtp.wait_count(1)
    assert str(smtp.received[0].msg["Subject"]) == subject


def test_start_up_delivers_what_waits(smtp, mailers, files):
    m = mailers(smtp.port)
    for i in range(3):
        m.enqueue("a@example.com", f"bekleyen {i}", text=files(f"{i}", "x"))
    m.start()
    assert smtp.wait_count(3, timeout=10)
    assert sorted(str(r.msg["Subject"]) for r in smtp.received) == \
        ["bekleyen 0", "bekleyen 1", "bekleyen 2"]
    m.stop()


def test_200_jobs_dropped_at_once(smtp, mailers):
    m = mailers(smtp.port).start()
    for i in range(200):
        m.write_job(f"job-{i:03d}", "[job]\nto = a@example.com\n"
                    f"subject = iş {i}\ntext = t.txt\n",
                    {"t.txt": f"gövde {i}\n".encode()})
    assert smtp.wait_count(200, timeout=60), len(smtp.received)
    subjects = sorted(str(r.msg["Subject"]) for r in smtp.received)
    assert subjects == sorted(f"iş {i}" for i in range(200))
    assert wait_for(lambda: len(m.jobs("sent")) == 200)
    assert m.jobs("outbox") == [] and m.jobs("failed") == []
    # one connection carried them all
    assert len(smtp.handler.connections) == 1
    m.stop()


def test_sigterm_stops_cleanly(smtp, mailers):
    m = mailers(smtp.port).start()
    m.proc.send_signal(signal.SIGTERM)
    assert m.proc.wait(timeout=10) == 0
    assert "stopping on" in m.daemon_log()


def test_second_mailer_on_the_same_spool_refuses(smtp, mailers):
    m = mailers(smtp.port).start()
    r = m.run("--once", check=False)
    assert r.returncode == 1
    assert b"another sapb1fs-mailer" in r.stderr
    m.stop()


def test_enqueue_refuses_bad_arguments(smtp, mailers, files):
    m = mailers(smtp.port)
    t = files("t.txt", "x")
    cases = [
        (["--to", "not-an-address", "--subject", "s", "--text", t],
         b"bad address"),
        (["--to", "a@example.com", "--text", t], b"no subject"),
        (["--subject", "s", "--text", t], b"no recipient"),
        (["--to", "a@example.com", "--subject", "s", "--text", t,
          "--attach", "/nonexistent/file.xlsx"], b"No such file"),
        (["--to", "a@example.com", "--subject", "s", "--text", t,
          "--attach", files("job.ini", "x")], b"cannot attach"),
    ]
    for args, want in cases:
        r = m.run("--enqueue", *args, check=False)
        assert r.returncode == 2, (args, r.stderr)
        assert want in r.stderr, (args, r.stderr)
    assert m.jobs("outbox") == [] and m.jobs("tmp") == []
