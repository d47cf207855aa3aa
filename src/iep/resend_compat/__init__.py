"""A Resend-compatible facade (A11): `POST /emails`, `POST /emails/batch`, `GET /emails/{id}` onto IEP's accept."""
