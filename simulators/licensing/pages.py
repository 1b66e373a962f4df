"""The one HTML page of the licensing reference system (Jinja, autoescaped).

Names are shown with ``dir="auto"`` so Arabic renders right-to-left inside
an English page, and ``lang="ar"`` when the text is Arabic (fonts, screen
readers).
"""

from __future__ import annotations

import re

_ARABIC = re.compile(r"[\u0600-\u06FF\u0750-\u077F\u08A0-\u08FF\uFB50-\uFDFF\uFE70-\uFEFF]")


def text_lang(text: str | None) -> str:
    """``ar`` when the text holds Arabic letters, else ``en``."""
    return "ar" if text and _ARABIC.search(text) else "en"


INDEX = """<!doctype html>
<html lang="en" dir="ltr">
<head>
<meta charset="utf-8">
<title>Labour licensing — reference system</title>
<style>
 body { font-family: system-ui, "Noto Naskh Arabic", sans-serif; margin: 2rem; max-width: 70rem; }
 table { border-collapse: collapse; width: 100%; } td, th { border-bottom: 1px solid #ddd; padding: .3rem .5rem; text-align: start; }
 .approved { color: #060; } .refused { color: #a00; } .referred { color: #a60; }
 fieldset { margin-bottom: 1rem; } label { display: inline-block; margin: .2rem 1rem .2rem 0; }
 .error { background: #fee; padding: .5rem; }
</style>
</head>
<body>
<h1>Labour licensing <span lang="ar" dir="rtl">ترخيص العمل</span></h1>
{% if error %}<p class="error" role="alert">{{ error }}</p>{% endif %}
<form method="post" action="{{ url_for('page.submit_form') }}">
<fieldset><legend>New application</legend>
 <label>Type <select name="licence_type">
   <option value="private">private (household worker)</option>
   <option value="commercial">commercial (establishment)</option></select></label>
 <label>Applicant name <input name="applicant_name" dir="auto"></label>
 <label>Civil number <input name="applicant_civil_number" inputmode="numeric" pattern="[0-9]{8,9}"></label>
 <label>CR number <input name="employer_cr" inputmode="numeric" pattern="[0-9]{7,10}"></label>
 <label>Profession code <input name="profession_code" required pattern="[0-9]{4,8}"></label>
 <label>Nationality (optional) <input name="nationality" pattern="[A-Z]{3}" size="4"></label>
 <label>Vacancies <input name="count" type="number" min="1" value="1" required></label>
 <button type="submit">Submit and decide</button>
</fieldset>
</form>
<h2>Decisions</h2>
<table>
<thead><tr><th>Application</th><th>Applicant</th><th>Type</th><th>Decision</th><th>Licence</th><th>Reasons</th><th>Decided at</th></tr></thead>
<tbody>
{% for d in decisions %}
<tr>
 <td><a href="{{ url_for('api.get_application', number=d.application_number) }}">{{ d.application_number }}</a></td>
 <td dir="auto" lang="{{ text_lang(d.applicant_name) }}">{{ d.applicant_name or d.applicant_civil_number or d.employer_cr }}</td>
 <td>{{ d.licence_type }}</td>
 <td class="{{ d.decision }}">{{ d.decision }}</td>
 <td>{% if d.licence_number %}<a href="{{ url_for('api.get_licence', number=d.licence_number) }}">{{ d.licence_number }}</a>{% endif %}</td>
 <td>{% for r in d.reasons %}<span title="{{ r.text }}">{{ r.code }}</span>{% if not loop.last %}, {% endif %}{% endfor %}</td>
 <td>{{ d.decided_at }}</td>
</tr>
{% else %}<tr><td colspan="7">No decisions yet.</td></tr>{% endfor %}
</tbody>
</table>
<h2>Events applied</h2>
<table>
<thead><tr><th>Type</th><th>From</th><th>Who</th><th>Outcome</th><th>Applied at</th></tr></thead>
<tbody>
{% for e in events %}
<tr><td>{{ e.message_type }}</td><td>{{ e.source_agency }}</td>
 <td>{% for lang, name in e.names.items() %}<span dir="auto" lang="{{ lang }}">{{ name }}</span>{% if not loop.last %} · {% endif %}{% endfor %}</td>
 <td>{{ e.outcome }}</td><td>{{ e.applied_at }}</td></tr>
{% else %}<tr><td colspan="5">No events yet.</td></tr>{% endfor %}
</tbody>
</table>
</body>
</html>
"""
