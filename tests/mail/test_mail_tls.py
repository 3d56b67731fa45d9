"""TLS and AUTH against a real server: STARTTLS with a certificate the
test makes, implicit TLS (smtps://), AUTH over TLS.  Never a message in
plain text when TLS is asked for, never a password in the log."""
import os

import pytest

from mailtools import SmtpServer


@pytest.fixture
def server(request, cert):
    made = []

    def make(**kw):
        s = SmtpServer(cert=cert, **kw).start()
        made.append(s)
        return s
    yield make
    for s in made:
        s.stop()


def test_starttls_with_a_verified_certificate(server, cert, mailers, files):
    s = server(tls="starttls")
    m = mailers(s.port, tls="yes", smtp_extra=f"ca_file = {cert[0]}")
    m.enqueue("a@example.com", "şifreli", text=files("t", "gizli"))
    m.once()
    assert s.wait_count(1)
    assert s.received[0].tls
    assert str(s.received[0].msg["Subject"]) == "şifreli"


def test_an_untrusted_certificate_is_refused(server, mailers, files):
    s = server(tls="starttls")
    m = mailers(s.port, tls="yes")  # no ca_file: the system store
    job = m.enqueue("a@example.com", "x", text=files("t", "x"))
    r = m.once()
    assert r.returncode == 75
    assert s.received == [] and m.jobs("outbox") == [job]
    assert "certificate" in m.state("outbox", job)["last_error"].lower()


def test_no_starttls_offered_means_no_sending(server, cert, mailers, files):
    s = server()  # plain server, STARTTLS not offered
    m = mailers(s.port, tls="yes", smtp_extra=f"ca_file = {cert[0]}")
    job = m.enqueue("a@example.com", "x", text=files("t", "x"))
    assert m.once().returncode == 75
    assert s.received == [] and m.jobs("outbox") == [job]


def test_implicit_tls(server, cert, mailers, files):
    s = server(tls="implicit")
    m = mailers(s.port, scheme="smtps", tls="yes",
                smtp_extra=f"ca_file = {cert[0]}")
    m.enqueue("a@example.com", "smtps", text=files("t", "x"))
    m.once()
    assert s.wait_count(1)
    assert s.received[0].tls


def auth_mailer(mailers, s, cert, password):
    env_file = os.path.join(os.path.dirname(cert[0]), "mail.env")
    with open(env_file, "w") as f:
        f.write(f"SMTP_PASSWORD={password}\n")
    os.chmod(env_file, 0o600)
    m = mailers(s.port, tls="yes",
                smtp_extra=f"ca_file = {cert[0]}\nuser = rapor\n"
                           "password = ${SMTP_PASSWORD}\n")
    with open(m.config) as f:
        text = f.read()
    with open(m.config, "w") as f:
        f.write(text.replace("[global]\n",
                             f"[global]\nenv_file = {env_file}\n"))
    return m


def test_auth_over_starttls(server, cert, mailers, files):
    s = server(tls="starttls", auth=("rapor", "Gizli-Şifre-42"))
    m = auth_mailer(mailers, s, cert, "Gizli-Şifre-42")
    m.enqueue("a@example.com", "auth", text=files("t", "x"))
    m.once()
    assert s.wait_count(1)
    assert s.received[0].tls


def test_a_wrong_password_defers_and_is_never_logged(server, cert, mailers,
                                                      files):
    s = server(tls="starttls", auth=("rapor", "dogru"))
    m = auth_mailer(mailers, s, cert, "yanlis-parola-123")
    job = m.enqueue("a@example.com", "auth", text=files("t", "x"))
    assert m.once().returncode == 75
    assert s.received == [] and m.jobs("outbox") == [job]
    assert m.jobs("failed") == []
    log = m.log()
    assert "yanlis-parola-123" not in log
    state = open(m.path("outbox", job, "state.ini")).read()
    assert "yanlis-parola-123" not in state
    assert "535" in m.state("outbox", job)["last_error"]
