#!/usr/bin/env python3
"""Generate leadctl's sample lead files (realistic and messy on purpose).

Run from the repository root (standard library only, Python 3.10+):

    python examples/make_examples.py            # rewrites the files below and prints a summary
    python examples/make_examples.py --check    # regenerate in memory, fail if a file on disk differs

The output is deterministic (fixed seed, no clock, no set iteration), so running
it again produces byte-identical files. It writes, next to this script:

    hubspot_contacts.csv          ~155 contacts as a HubSpot export (BOM, CRLF, trailing empty column)
    webform_leads.json            ~105 leads from a form/ad tool ({"meta": ..., "data": [...]})
    activities.csv                ~400 activity events keyed by e-mail (some by phone, some unknown)
    closed_deals.csv              ~25 deal outcomes keyed by HubSpot Record ID
    closed_deals.mapping.yaml     the import mapping for closed_deals.csv (docs/mapping.md format)

See examples/README.md for what each file contains and what an import should do with it.
All people, companies, domains and phone numbers are made up; US, UK and Australian
numbers use the ranges reserved for fiction (555-01xx, 020 7946 0xxx, 07700 900xxx,
0491 570 xxx).
"""
from __future__ import annotations

import csv
import io
import json
import sys
import unicodedata
from datetime import datetime, timedelta, timezone
from pathlib import Path
from random import Random

SEED = 20261120
HERE = Path(__file__).resolve().parent
UTC = timezone.utc
START = datetime(2026, 1, 2, 8, 0, tzinfo=UTC)
END = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)          # "today" of the sample data
ACT_START = datetime(2026, 9, 1, 7, 0, tzinfo=UTC)

N_CSV = 155          # rows in the HubSpot export, including duplicates and bad rows
N_JSON = 105         # records in the web-form export, including overlaps, duplicates and bad rows
N_OVERLAP = 20       # web-form people who are also HubSpot contacts
N_ACTIVITIES = 400
N_DEALS = 25

HUBSPOT_HEADER = [
    "Record ID", "First Name", "Last Name", "Email", "Phone Number", "Company Name",
    "Job Title", "Industry", "Number of Employees", "Annual Revenue", "Country/Region",
    "City", "Lifecycle Stage", "Lead Status", "Original Source", "Create Date",
    "Contact owner", "Budget", "Total Time Spent on Website", "Notes",
]
ACTIVITY_HEADER = ["email", "phone", "type", "at", "url", "note"]
DEALS_HEADER = ["Record ID", "Deal Name", "Amount", "Won", "won_date", "Loss Reason"]
# A lost deal's reason as CRM users type it: labels and aliases of the lost-reason catalogue.
LOSS_REASONS = ["Too expensive", "Chose a competitor", "No response", "Not a fit", "No decision maker"]

# --------------------------------------------------------------------------- pools

COUNTRIES = {
    # code: (weight, spellings used in exports, cities, UTC offset for local times)
    "US": (38, ["United States", "USA", "United States", "US", "United States of America", "usa"],
           ["San Francisco", "New York", "Austin", "Chicago", "Boston", "Seattle", "Denver",
            "Washington, D.C."], -5),
    "GB": (14, ["United Kingdom", "UK", "United Kingdom", "GB", "uk"],
           ["London", "Manchester", "Leeds", "Bristol", "Edinburgh"], 0),
    "DE": (16, ["DE", "Germany", "Germany", "Deutschland", "de"],
           ["Berlin", "München", "Hamburg", "Köln", "Frankfurt am Main", "Leipzig"], 1),
    "FR": (7, ["France", "FR", "France"], ["Paris", "Lyon", "Toulouse", "Nantes"], 1),
    "IN": (8, ["India", "IN", "India"], ["Bengaluru", "Mumbai", "Pune", "Hyderabad"], 5.5),
    "BR": (5, ["Brasil", "Brazil", "BR"], ["São Paulo", "Rio de Janeiro", "Curitiba"], -3),
    "AU": (5, ["Australia", "AU", "Australia"], ["Sydney", "Melbourne", "Brisbane"], 10),
    "CA": (5, ["Canada", "CA", "Canada"], ["Toronto", "Vancouver", "Montréal"], -5),
}

ANGLO_FIRST = ["James", "Emily", "Michael", "Sarah", "David", "Jessica", "Daniel", "Ashley",
               "Ryan", "Megan", "Chris", "Lauren", "Kevin", "Rachel", "Brian", "Olivia", "Tom",
               "Hannah", "Jack", "Chloe", "Liam", "Grace", "Noah", "Sophie", "Ethan", "Zoe",
               "Marcus", "Priscilla", "Aaron", "Natalie", "Connor", "Isabel"]
ANGLO_LAST = ["Smith", "Johnson", "Brown", "Taylor", "Wilson", "Clarke", "Walker", "Hughes",
              "O'Brien", "Campbell", "Nguyen", "Patel", "Robinson", "Murphy", "Kelly", "Chen",
              "Garcia", "Martinez", "Thompson", "Evans", "Wright", "Bennett", "Foster",
              "McAllister", "Reyes", "Kowalski", "Okafor", "Lindqvist"]
NAMES = {
    "US": (ANGLO_FIRST, ANGLO_LAST), "GB": (ANGLO_FIRST, ANGLO_LAST),
    "AU": (ANGLO_FIRST, ANGLO_LAST), "CA": (ANGLO_FIRST + ["Émilie", "Mathieu"], ANGLO_LAST + ["Tremblay", "Gagnon"]),
    "DE": (["Anna", "Lukas", "Julia", "Felix", "Laura", "Jonas", "Katharina", "Maximilian",
            "Sophie", "Tobias", "Lena", "Jan", "Miriam", "Florian", "Jürgen", "Sabine"],
           ["Schmidt", "Müller", "Schneider", "Fischer", "Weber", "Wagner", "Becker", "Hoffmann",
            "Schäfer", "Koch", "Richter", "Klein", "Wolf", "Krüger", "Neumann", "Weiß"]),
    "FR": (["Camille", "Lucas", "Léa", "Hugo", "Chloé", "Louis", "Manon", "Antoine", "Élodie", "Julien"],
           ["Martin", "Bernard", "Dubois", "Thomas", "Robert", "Petit", "Durand", "Lefèvre",
            "Moreau", "Girard"]),
    "IN": (["Priya", "Rahul", "Ananya", "Arjun", "Sneha", "Vikram", "Kavya", "Rohan", "Aditi", "Karthik"],
           ["Sharma", "Patel", "Iyer", "Nair", "Reddy", "Gupta", "Singh", "Menon", "Rao", "Kulkarni"]),
    "BR": (["Ana", "João", "Mariana", "Pedro", "Beatriz", "Lucas", "Camila", "Rafael", "Larissa", "Thiago"],
           ["Silva", "Souza", "Oliveira", "Santos", "Costa", "Pereira", "Almeida", "Ferreira",
            "Rodrigues", "Lima"]),
}

INDUSTRIES = ["SaaS", "Fintech", "Healthcare", "Retail", "Manufacturing", "Education",
              "Logistics", "Media", "Government", "Nonprofit"]
INDUSTRY_WEIGHTS = [22, 12, 11, 9, 12, 7, 9, 7, 5, 6]
# words that make a company name sound like its industry, per language group
INDUSTRY_WORDS = {
    "SaaS": (["Analytics", "Cloud", "Software", "Labs", "Data"], ["Software", "Cloud"], ["Numérique", "Logiciels"],
             ["Technologies", "Infotech"], ["Tecnologia", "Sistemas"]),
    "Fintech": (["Pay", "Capital", "Ledger", "Finance"], ["Finanz", "Zahlungsdienste"], ["Paiements", "Finance"],
                ["Fintech", "Payments"], ["Pagamentos", "Finanças"]),
    "Healthcare": (["Health", "Care", "Medical", "Clinics"], ["Medizintechnik", "Klinik"], ["Santé", "Médical"],
                   ["Healthcare", "Diagnostics"], ["Saúde", "Clínicas"]),
    "Retail": (["Outfitters", "Goods", "Market", "Stores"], ["Handel", "Warenhaus"], ["Distribution", "Boutiques"],
               ["Retail", "Bazaar"], ["Varejo", "Lojas"]),
    "Manufacturing": (["Industries", "Manufacturing", "Components", "Fabrication"], ["Maschinenbau", "Werke"],
                      ["Industries", "Mécanique"], ["Engineering", "Forgings"], ["Indústria", "Metalúrgica"]),
    "Education": (["Learning", "Academy", "Education"], ["Bildung", "Akademie"], ["Formation", "Éducation"],
                  ["EduTech", "Learning"], ["Educação", "Ensino"]),
    "Logistics": (["Freight", "Logistics", "Shipping"], ["Logistik", "Spedition"], ["Logistique", "Transports"],
                  ["Logistics", "Cargo"], ["Logística", "Transportes"]),
    "Media": (["Media", "Studios", "Publishing"], ["Medien", "Verlag"], ["Médias", "Productions"],
              ["Media", "Broadcast"], ["Mídia", "Comunicação"]),
}
PREFIX = {
    "anglo": ["Bright", "Blue", "North", "Summit", "Pioneer", "Clear", "Iron", "Silver", "Cedar", "Harbor",
              "Beacon", "Keystone", "Atlas", "Vertex", "Quantum", "Evergreen", "Granite", "Copper", "Lumen",
              "Nimbus", "Orbit", "Prairie", "Redwood", "Sterling", "Tidal", "Vantage", "Willow", "Zenith",
              "Apex", "Kestrel", "Fathom", "Juniper"],
    "de": ["Nordwind", "Rheintal", "Alpen", "Elbe", "Hansa", "Spree", "Isar", "Schwarzwald", "Bergmann",
           "Falken", "Lindenhof", "Weserland"],
    "fr": ["Lumière", "Azur", "Horizon", "Rivage", "Atelier", "Mistral", "Bellevue"],
    "in": ["Sahyadri", "Ganga", "Nilgiri", "Indus", "Kaveri", "Deccan"],
    "br": ["Ipê", "Araucária", "Jangada", "Tupi", "Cerrado", "Pampa"],
}
SUFFIX = {
    "US": ["Inc.", "LLC", "Inc", "", "Corp.", "Group"], "CA": ["Inc.", "Ltd.", ""],
    "GB": ["Ltd", "Limited", "", "plc", "Group"], "AU": ["Pty Ltd", "", "Group"],
    "DE": ["GmbH", "AG", "GmbH & Co. KG", "GmbH"], "FR": ["SAS", "SA", ""],
    "IN": ["Pvt Ltd", "Private Limited", "Technologies"], "BR": ["Ltda", "S.A.", "Ltda."],
}
GOV = {
    "US": ["City of Riverton IT Department", "Lakeside County Government", "State Board of Digital Services"],
    "GB": ["Northshire County Council", "Borough of Eastbridge"], "CA": ["Town of Maple Ridge Services"],
    "DE": ["Stadtverwaltung Neustadt", "Landesamt für Digitale Dienste"], "FR": ["Mairie de Saint-Aubin"],
    "IN": ["Municipal Corporation of Nandpur"], "BR": ["Prefeitura de Vila Nova"], "AU": ["Shire of Coral Bay"],
}
NGO = {
    "US": ["Open Harbor Foundation", "Clean Rivers Alliance", "Literacy First"],
    "GB": ["Hearth & Home Trust", "Northern Youth Charity"], "CA": ["Maple Food Bank Network"],
    "DE": ["Kinderhilfe Nord e.V.", "Stiftung Lesewelt"], "FR": ["Association Solidarité Azur"],
    "IN": ["Akshara Education Trust"], "BR": ["Instituto Semear"], "AU": ["Reef Guardians Trust"],
}
TLD = {"US": ".com", "CA": ".ca", "GB": ".co.uk", "AU": ".com.au", "DE": ".de", "FR": ".fr", "IN": ".in", "BR": ".com.br"}
FREE_MAIL = {"US": ["gmail.com", "yahoo.com", "outlook.com", "hotmail.com"], "CA": ["gmail.com", "hotmail.com"],
             "GB": ["gmail.com", "hotmail.co.uk", "yahoo.co.uk"], "AU": ["gmail.com", "bigpond.com"],
             "DE": ["gmail.com", "web.de", "gmx.de"], "FR": ["gmail.com", "orange.fr"],
             "IN": ["gmail.com", "yahoo.co.in"], "BR": ["gmail.com", "hotmail.com"]}

TITLES = [("CEO", 6), ("Founder", 4), ("Co-Founder & CEO", 2), ("CTO", 5), ("CFO", 2), ("COO", 2),
          ("VP Sales", 5), ("VP, Sales", 1), ("VP of Marketing", 3), ("Head of Marketing", 6),
          ("Head of Sales", 4), ("Head of Operations", 3), ("Director of IT", 5), ("IT Director", 2),
          ("Director, Customer Success", 2), ("Marketing Manager", 8), ("Sales Manager", 6),
          ("Operations Manager", 5), ("Product Manager", 5), ("Engineer", 5), ("Software Engineer", 4),
          ("Data Analyst", 4), ("Analyst", 3), ("Procurement Specialist", 2), ("Office Manager", 3),
          ("Marketing Coordinator", 3), ("Intern", 2), ("Student", 1), ("Consultant", 2)]
PROMOTION = {"Marketing Manager": "Head of Marketing", "Sales Manager": "VP Sales", "Engineer": "Engineering Manager",
             "Analyst": "Senior Analyst", "Data Analyst": "Head of Data", "Product Manager": "Director of Product",
             "Operations Manager": "Head of Operations", "Marketing Coordinator": "Marketing Manager"}

# (value written, weight); canonical source in the comment for the reader of this script
SOURCES = [("Google Ads", 14), ("google", 5), ("adwords", 3), ("Website Form", 16), ("webinar", 7),
           ("LinkedIn", 10), ("Referral", 7), (" referral ", 2), ("Trade Show", 6), ("Partner", 5),
           ("Newsletter", 5), ("Facebook Lead Ads", 5), ("Cold Call", 4), ("", 3)]
LIFECYCLE = [("subscriber", 12), ("lead", 40), ("marketingqualifiedlead", 20), ("salesqualifiedlead", 12),
             ("opportunity", 10), ("customer", 6)]
STATUS_BY_STAGE = {
    "subscriber": [("", 6), ("New", 3)],
    "lead": [("New", 6), ("Open", 4), ("Attempted to Contact", 4), ("Unqualified", 2), ("", 3), ("Bad Timing", 1)],
    "marketingqualifiedlead": [("Open", 4), ("In Progress", 4), ("Attempted to Contact", 3), ("Connected", 2),
                               ("Unqualified", 1)],
    "salesqualifiedlead": [("In Progress", 5), ("Connected", 4), ("Open Deal", 2)],
    "opportunity": [("Open Deal", 6), ("In Progress", 3)],
    "customer": [("Closed - Converted", 8), ("", 1)],
}
BUDGETS = [("<10k", 5), ("10k-50k", 7), ("50k-100k", 4), (">100k", 3), ("", 8), ("Select", 1)]
PLACEHOLDERS = ["N/A", "-", "Select", "", "n/a"]

NOTES = [
    "Met at the booth, interested in the API and SSO.",
    "Asked for pricing for 50 seats, wants annual billing.",
    "Call 1: no answer\nCall 2: left voicemail\nCall 3: booked demo for Tuesday",
    "Currently on a competitor, contract ends in Q1, open to a switch.",
    "Downloaded the ROI calculator, then the security whitepaper.",
    "Wants a pilot for the Berlin and Munich teams, decision by end of quarter.",
    'He said "call me next quarter", budget frozen until then.',
    "Referred by an existing customer; warm intro, CC'd their CFO.",
    "Student project, not a buyer.",
    "Bounced once, corrected address from LinkedIn.",
    "Needs GDPR DPA and data residency in the EU, legal review pending.",
    "Evaluating three vendors; we are the cheapest, not the strongest on reporting.",
    "Not the decision maker - forwarded to the Head of Ops.",
    "Reply from auto-responder: on parental leave until March.",
    "Asked about integrations: Salesforce, HubSpot, Slack.\nSend the integration one-pager.",
    "Unsubscribed from the newsletter but still wants product updates, see thread.",
]

UTM_SOURCES = [("google", 16), ("Google", 3), ("facebook", 12), ("fb", 3), ("linkedin", 12), ("LinkedIn", 3),
               ("newsletter", 6), ("partner", 4), ("webinar", 6), ("capterra", 4), ("bing", 2), ("", 6)]
CAMPAIGNS = {
    "google": ["brand-search", "q2-demo-push", "competitor-kw", "pricing-remarketing"],
    "facebook": ["lookalike-customers", "q3-ebook-leadgen"], "linkedin": ["abm-enterprise-emea", "cfo-guide-2026"],
    "newsletter": ["nl-2026-06", "nl-2026-09", "nl-2026-10"], "partner": ["partner-portal"],
    "webinar": ["webinar-2026-05-scoring", "webinar-2026-10-routing"], "capterra": ["capterra-ppc"],
    "bing": ["brand-search"], "": [""],
}
FORMS = [("f_1042", "Book a demo"), ("f_1077", "Download: The 2026 Lead Scoring Guide"),
         ("f_1090", "Webinar registration"), ("f_2001", "Facebook Lead Form - Q3 ebook"),
         ("f_2002", "LinkedIn Lead Gen - CFO guide")]
TEAM_SIZES = [5, 8, 12, 25, 40, 60, 120, 250, 600, "1-10", "11-50", "51-200", "201-500", "500+"]
JSON_BUDGETS = ["Under $10k", "<10k", "10k-50k", "$10k - $50k", "50k-100k", ">100k", "Not sure yet", ""]

PAGES = ["/pricing", "/pricing", "/pricing", "/demo", "/docs", "/docs/import", "/docs/rules",
         "/blog/lead-scoring-that-works", "/blog/speed-to-lead", "/blog/round-robin-vs-weighted",
         "/blog/gdpr-for-sales-teams", "/customers", "/integrations/hubspot", "/security", "/", "/about"]
ACTIVITY_TYPES = [("page_view", 46), ("email_open", 15), ("email_sent", 11), ("form_submit", 5),
                  ("demo_request", 4), ("webinar_attended", 4), ("call", 9), ("meeting", 4), ("unsubscribed", 2)]


# --------------------------------------------------------------------------- helpers

def pick(rng: Random, weighted):
    values = [v for v, _ in weighted]
    weights = [w for _, w in weighted]
    return rng.choices(values, weights=weights, k=1)[0]


def ascii_slug(text: str) -> str:
    text = text.replace("ß", "ss").replace("æ", "ae").replace("ø", "o")
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    return "".join(c for c in text.lower() if c.isalnum())


def hubspot_date(dt: datetime) -> str:
    """HubSpot's US-style export date: 3/14/2026 9:05 AM (account time zone, no offset)."""
    hour = dt.hour % 12 or 12
    return f"{dt.month}/{dt.day}/{dt.year} {hour}:{dt.minute:02d} {'AM' if dt.hour < 12 else 'PM'}"


def iso(dt: datetime, offset_hours: float | None = None) -> str:
    if offset_hours is None or offset_hours == 0:
        return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    tz = timezone(timedelta(hours=offset_hours))
    return dt.astimezone(tz).isoformat(timespec="seconds")


def random_time(rng: Random, start: datetime, end: datetime) -> datetime:
    span = int((end - start).total_seconds())
    return start + timedelta(seconds=rng.randrange(span))


def business_time(rng: Random, start: datetime, end: datetime, utc_offset: float) -> datetime:
    """A time between start and end that falls on a weekday, roughly within local office hours."""
    for _ in range(50):
        dt = random_time(rng, start, end)
        local = dt + timedelta(hours=utc_offset)
        if local.weekday() < 5 and 8 <= local.hour < 19:
            return dt.replace(microsecond=0)
    return dt.replace(microsecond=0)


LITERAL_PHONES = [("US", "(415) 555-0132", "+14155550132"), ("GB", "+44 20 7946 0958", "+442079460958"),
                  ("DE", "0049 30 2345678", "+49302345678"), ("DE", "030 1234567", "+49301234567"),
                  ("US", "555-0199 x12", None)]


class Phones:
    """Fictional phone numbers, one unique subscriber number per lead, written in many formats."""

    def __init__(self, rng: Random):
        self.rng = rng
        self.used: list[str] = [e for _, _, e in LITERAL_PHONES if e] + ["+14155550100"]

    def _unique(self, make):
        while True:
            e164, shown = make()
            if e164 not in self.used:
                self.used.append(e164)
                return e164, shown

    def make(self, cc: str):
        r = self.rng

        def nanp():
            area = r.choice({"US": ["415", "212", "512", "312", "617", "206", "303", "202"],
                             "CA": ["416", "604", "514", "647"]}[cc])
            line = f"01{r.randrange(100):02d}"
            fmt = r.choice([f"({area}) 555-{line}", f"{area}-555-{line}", f"+1 {area} 555 {line}",
                            f"{area}.555.{line}", f"+1 ({area}) 555-{line}", f"1{area}555{line}",
                            f"({area}) 555-{line} ext. {r.randrange(2, 60)}"])
            return f"+1{area}555{line}", fmt

        def gb():
            if r.random() < 0.6:
                n = f"{r.randrange(1000):03d}"
                return f"+442079460{n}", r.choice([f"+44 20 7946 0{n}", f"020 7946 0{n}",
                                                     f"+44 (0)20 7946 0{n}", f"02079460{n}"])
            n = f"{r.randrange(1000):03d}"
            return f"+447700900{n}", r.choice([f"07700 900{n}", f"+44 7700 900{n}", f"+447700900{n}"])

        def de():
            kind = r.random()
            if kind < 0.5:
                n = f"{r.randrange(1000000, 9999999)}"
                return f"+4930{n}", r.choice([f"0049 30 {n}", f"030 {n}", f"+49 30 {n}", f"+49 (0)30 {n}",
                                              f"030/{n}", f"030-{n[:3]} {n[3:]}"])
            if kind < 0.75:
                n = f"{r.randrange(10000000, 99999999)}"
                return f"+4989{n}", r.choice([f"089 {n}", f"+49 89 {n}", f"0049 89 {n}"])
            n = f"{r.randrange(10000000, 99999999)}"
            return f"+49151{n}", r.choice([f"0151 {n}", f"+49 151 {n}", f"+49 (0)151-{n}"])

        def fr():
            lead = r.choice(["1", "4", "6", "7"])
            d = [f"{r.randrange(100):02d}" for _ in range(4)]
            return f"+33{lead}{''.join(d)}", r.choice([f"+33 {lead} {' '.join(d)}", f"0{lead} {' '.join(d)}",
                                                        f"0{lead}.{'.'.join(d)}", f"+33 (0){lead} {' '.join(d)}"])

        def in_():
            a = f"9{r.randrange(1000, 9999)}"
            b = f"{r.randrange(10000, 99999)}"
            return f"+91{a}{b}", r.choice([f"+91 {a} {b}", f"0{a} {b}", f"+91-{a}-{b}", f"{a}{b}"])

        def br():
            a = f"9{r.randrange(1000, 9999)}"
            b = f"{r.randrange(1000, 9999)}"
            ddd = r.choice(["11", "21", "41"])
            return f"+55{ddd}{a}{b}", r.choice([f"+55 {ddd} {a}-{b}", f"({ddd}) {a}-{b}", f"+55 ({ddd}) {a}{b}"])

        def au():
            if r.random() < 0.5:
                n = f"{r.randrange(1000):03d}"
                return f"+61491570{n}", r.choice([f"0491 570 {n}", f"+61 491 570 {n}"])
            n = f"{r.randrange(10000):04d}"
            return f"+61255501{n[1:]}", r.choice([f"+61 2 5550 1{n[1:]}", f"(02) 5550 1{n[1:]}"])

        return self._unique({"US": nanp, "CA": nanp, "GB": gb, "DE": de, "FR": fr, "IN": in_, "BR": br,
                             "AU": au}[cc])


class Companies:
    """A pool of fictional companies; several leads may work at the same one."""

    def __init__(self, rng: Random):
        self.rng = rng
        self.by_country: dict[str, list[dict]] = {}
        self.names: list[str] = []

    def new(self, cc: str, industry: str) -> dict:
        r = self.rng
        group = {"DE": 1, "FR": 2, "IN": 3, "BR": 4}.get(cc, 0)
        pref_key = ["anglo", "de", "fr", "in", "br"][group]
        for _ in range(100):
            if industry == "Government":
                name = r.choice(GOV[cc])
            elif industry == "Nonprofit":
                name = r.choice(NGO[cc])
            else:
                word = r.choice(INDUSTRY_WORDS[industry][group])
                suffix = r.choice(SUFFIX[cc])
                name = f"{r.choice(PREFIX[pref_key])} {word}" + (f" {suffix}" if suffix else "")
            if name not in self.names:
                break
        self.names.append(name)
        core = name.split(" GmbH")[0].split(" e.V.")[0]
        for suffix in (" Inc.", " Inc", " LLC", " Ltd.", " Ltd", " Limited", " plc", " Corp.", " Group", " Pty Ltd",
                       " AG", " SAS", " SA", " Pvt Ltd", " Private Limited", " Ltda.", " Ltda", " S.A."):
            if core.endswith(suffix):
                core = core[: -len(suffix)]
        words = [ascii_slug(w) for w in core.split() if ascii_slug(w) not in ("of", "de", "the", "fur", "")]
        domain = (words[0] + (words[1] if len(words) > 1 and r.random() < 0.5 else "")
                  if len(words) > 1 else words[0]) + TLD[cc]
        if industry in ("Government", "Nonprofit"):
            domain = "-".join(words[:3]) + (".org" if industry == "Nonprofit" else TLD[cc])
        size = pick(r, [(r.randint(2, 10), 2), (r.randint(11, 50), 5), (r.randint(51, 200), 6),
                        (r.randint(201, 1000), 4), (r.randint(1001, 5000), 3), (r.randint(5001, 40000), 1)])
        if industry in ("Government",):
            size = r.randint(300, 6000)
        company = {"name": name, "domain": domain, "country": cc, "industry": industry, "employees": size,
                   "revenue": int(size * r.uniform(60_000, 220_000))}
        self.by_country.setdefault(cc, []).append(company)
        return company

    def get(self, cc: str, industry: str) -> dict:
        existing = [c for c in self.by_country.get(cc, []) if c["industry"] == industry]
        if existing and self.rng.random() < 0.22:
            return self.rng.choice(existing)
        return self.new(cc, industry)


def fmt_employees(rng: Random, n: int) -> str:
    roll = rng.random()
    if roll < 0.10:
        return rng.choice(PLACEHOLDERS)
    if roll < 0.28:
        for lo, hi in ((1, 10), (11, 50), (51, 200), (201, 500), (501, 1000), (1001, 5000)):
            if lo <= n <= hi:
                return f"{lo}-{hi}"
        return "5000+"
    if n >= 1000 and rng.random() < 0.7:
        return f"{n:,}"
    return str(n)


def fmt_revenue(rng: Random, amount: int) -> str:
    roll = rng.random()
    if roll < 0.15:
        return rng.choice(PLACEHOLDERS)
    if amount >= 1_000_000 and roll < 0.45:
        return f"${amount / 1e6:.1f}M".replace(".0M", "M")
    if amount < 1_000_000 and roll < 0.45:
        return f"{round(amount / 1000)}k"
    if roll < 0.75:
        return f"{round(amount, -3):,}"
    if roll < 0.9:
        return f"${round(amount, -3):,}"
    return str(round(amount, -4))


def messy_email(rng: Random, email: str) -> str:
    roll = rng.random()
    if roll < 0.10:
        return email.upper()
    if roll < 0.25:
        local, domain = email.split("@")
        return ".".join(p.capitalize() for p in local.split(".")) + "@" + domain.capitalize()
    if roll < 0.32:
        return f" {email} "
    if roll < 0.36:
        return f"{email} "
    return email


def recased(email: str, k: int) -> str:
    """The same address as typed somewhere else: a different capitalisation (never identical)."""
    local, domain = email.split("@")
    variants = [email.upper(), ".".join(p.capitalize() for p in local.split(".")) + "@" + domain,
                local + "@" + domain.upper(), local.capitalize() + "@" + domain.capitalize(),
                f"  {local.upper()}@{domain}"]
    for i in range(len(variants)):
        v = variants[(k + i) % len(variants)]
        if v.strip() != email:
            return v
    return email.upper()


# --------------------------------------------------------------------------- generation

def make_person(rng: Random, phones: Phones, companies: Companies, cc: str | None = None) -> dict:
    if cc is None:
        cc = pick(rng, [(c, v[0]) for c, v in COUNTRIES.items()])
    firsts, lasts = NAMES[cc]
    first, last = rng.choice(firsts), rng.choice(lasts)
    industry = pick(rng, list(zip(INDUSTRIES, INDUSTRY_WEIGHTS)))
    company = companies.get(cc, industry)
    fslug, lslug = ascii_slug(first), ascii_slug(last)
    if rng.random() < 0.12:
        email = f"{fslug}.{lslug}{rng.randrange(10, 99) if rng.random() < 0.5 else ''}@{rng.choice(FREE_MAIL[cc])}"
    else:
        email = rng.choice([f"{fslug}.{lslug}", f"{fslug}.{lslug}", f"{fslug[0]}{lslug}", f"{fslug}",
                            f"{fslug}_{lslug}", f"{lslug}.{fslug[0]}"]) + "@" + company["domain"]
    e164, phone = phones.make(cc) if rng.random() < 0.8 else (None, "")
    return {"cc": cc, "first": first, "last": last, "email": email, "email_ok": True, "e164": e164, "phone": phone,
            "company": company, "industry": industry, "title": pick(rng, TITLES),
            "city": rng.choice(COUNTRIES[cc][2]), "offset": COUNTRIES[cc][3]}


def build_hubspot(rng: Random, phones: Phones, companies: Companies):
    people = [make_person(rng, phones, companies) for _ in range(N_CSV)]
    # the special cases, placed at fixed positions so they are easy to find
    jose = people[7] = make_person(rng, phones, companies, cc="DE")
    jose.update(first="José", last="Müller", city="Hamburg", email=f"jose.mueller@{jose['company']['domain']}")
    rtl = people[23]
    rtl.update(first="ليلى", last="حداد", email=f"layla.haddad@{rtl['company']['domain']}")
    emoji = people[41]
    emoji["company"] = dict(emoji["company"], name="Launchpad 🚀 Studio", domain="launchpad.studio", industry="SaaS")
    emoji["industry"] = "SaaS"
    emoji["email"] = "hello@launchpad.studio"
    comma = people[58]
    comma["company"] = dict(comma["company"], name="Smith, Jones & Partners LLP", industry="Fintech", domain="sjp-law.com")
    comma["industry"] = "Fintech"
    comma["email"] = f"{ascii_slug(comma['first'])}.{ascii_slug(comma['last'])}@sjp-law.com"
    # the exact phone formats of the brief, on people of the right country (numbers reserved up front)
    for i, (cc, shown, e164) in enumerate(LITERAL_PHONES):
        p = people[90 + i] = make_person(rng, phones, companies, cc=cc)
        p["phone"], p["e164"] = shown, e164
    # unique e-mails across people (same company + common names can collide)
    taken: list[str] = []
    for p in people:
        while p["email"] in taken:
            local, domain = p["email"].split("@")
            p["email"] = f"{local}{rng.randrange(2, 9)}@{domain}"
        taken.append(p["email"])

    rows, leads, notes_used = [], [], 0
    record_id = 51201
    created_times = sorted(business_time(rng, START, END, 0) for _ in range(N_CSV))
    for i, p in enumerate(people):
        record_id += rng.randrange(1, 40)
        created = created_times[i]
        stage = pick(rng, LIFECYCLE)
        # leads created recently cannot be customers yet
        if created > END - timedelta(days=30) and stage in ("customer", "opportunity"):
            stage = "marketingqualifiedlead"
        status = pick(rng, STATUS_BY_STAGE[stage])
        title = p["title"] if rng.random() > 0.05 else rng.choice(["N/A", "-", ""])
        industry = p["industry"]
        shown_industry = industry
        r = rng.random()
        if r < 0.06:
            shown_industry = rng.choice(PLACEHOLDERS)
        elif r < 0.12:
            shown_industry = industry.lower()
        country_text = rng.choice(COUNTRIES[p["cc"]][1])
        if rng.random() < 0.04:
            country_text = rng.choice(["", "Select"])
        owner = rng.choice(["dana", "lee"]) if rng.random() < 0.1 else ""
        note = ""
        if rng.random() < 0.3:
            note = NOTES[notes_used % len(NOTES)]
            notes_used += 1
        lead = {"record_id": str(record_id), "person": p, "created": created, "stage": stage, "status": status,
                "email_key": p["email"].lower(), "e164": p["e164"], "kind": "ok"}
        row = {
            "Record ID": str(record_id), "First Name": p["first"], "Last Name": p["last"],
            "Email": messy_email(rng, p["email"]), "Phone Number": p["phone"],
            "Company Name": p["company"]["name"], "Job Title": title, "Industry": shown_industry,
            "Number of Employees": fmt_employees(rng, p["company"]["employees"]),
            "Annual Revenue": fmt_revenue(rng, p["company"]["revenue"]), "Country/Region": country_text,
            "City": p["city"] if rng.random() > 0.08 else "", "Lifecycle Stage": stage, "Lead Status": status,
            "Original Source": pick(rng, SOURCES), "Create Date": hubspot_date(created), "Contact owner": owner,
            "Budget": pick(rng, BUDGETS),
            "Total Time Spent on Website": str(int(rng.expovariate(1 / 400))) if rng.random() < 0.8 else "",
            "Notes": note,
        }
        rows.append(row)
        leads.append(lead)

    rows[7]["First Name"], rows[7]["Last Name"] = "José", "Müller"
    rows[130]["Notes"] = '=HYPERLINK("http://x","click")'
    rows[131]["Notes"] = "Follow up after the trade show, see badge scan.\nPrefers e-mail, not phone, before 10am."

    # --- mess that must be handled -------------------------------------------------
    # 1) rows with neither e-mail nor phone (badge scans, half-filled forms): must be rejected
    for i, (email, phone) in zip((12, 47, 88, 121, 149), (("", ""), ("-", "N/A"), ("", ""), ("N/A", ""), (" ", "-"))):
        rows[i]["Email"], rows[i]["Phone Number"] = email, phone
        rows[i]["Record ID"] = ""  # typed into the sheet from badge scans: no CRM record behind them
        leads[i]["kind"] = "no_contact"
    # 2) malformed e-mails (two with a phone to fall back on, two without)
    for i, (email, keep_phone) in zip((19, 64, 102, 140), (("john at acme.com", True), ("maria.garcia@", True),
                                                            ("sales@@brightpath.io", False),
                                                            ("tom.hughes@gmail", False))):
        rows[i]["Email"] = email
        # make the rest of the row agree with the typo'd address
        first, last, company = {"john at acme.com": ("John", "Carter", "Acme Corp"),
                                "maria.garcia@": ("Maria", "Garcia", None),
                                "sales@@brightpath.io": ("", "", "Brightpath Analytics Inc."),
                                "tom.hughes@gmail": ("Tom", "Hughes", None)}[email]
        rows[i]["First Name"], rows[i]["Last Name"] = first, last
        if company:
            rows[i]["Company Name"] = company
        if not keep_phone:
            rows[i]["Phone Number"] = ""
            rows[i]["Record ID"] = ""  # nothing else identifies them: these rows are rejected
            leads[i]["e164"] = None
        elif not rows[i]["Phone Number"]:
            e164, shown = phones.make(leads[i]["person"]["cc"])
            rows[i]["Phone Number"], leads[i]["e164"] = shown, e164
        leads[i]["kind"] = "bad_email_phone" if keep_phone else "bad_email_only"
    # 3) duplicate people: the same address in another case, a later record with some newer values
    dup_sources = [3, 30, 55, 77, 110, 125]
    dup_slots = [34, 61, 99, 118, 137, 152]
    for src, slot in zip(dup_sources, dup_slots):
        original, dup = rows[src], rows[slot]
        keep_id, keep_created = dup["Record ID"], dup["Create Date"]
        dup.clear()
        dup.update(original)
        dup["Record ID"], dup["Create Date"] = keep_id, keep_created
        dup["Email"] = recased(leads[src]["person"]["email"], slot)
        dup["Phone Number"] = "" if slot % 2 else original["Phone Number"]
        dup["Job Title"] = PROMOTION.get(original["Job Title"], original["Job Title"]) if slot % 3 else ""
        dup["Lifecycle Stage"] = "lead"
        dup["Lead Status"] = "New"
        dup["Notes"] = "Duplicate? Same person filled in the demo form again." if slot % 2 else ""
        dup["Original Source"] = rng.choice(["Website Form", "webinar", "Newsletter"])
        leads[slot] = dict(leads[src], record_id=keep_id, kind="duplicate", dup_of=original["Record ID"])
    return rows, leads


def build_webform(rng: Random, phones: Phones, companies: Companies, hub_leads: list[dict]):
    records, leads = [], []
    candidates = [l for l in hub_leads if l["kind"] == "ok" and l["created"] < END - timedelta(days=25)]
    overlap = rng.sample(candidates, N_OVERLAP)
    overlap.sort(key=lambda l: int(l["record_id"]))
    times = sorted(business_time(rng, START, END, 0) for _ in range(N_JSON))
    next_id = 8_410_022_000_000_000
    overlap_slots = sorted(rng.sample(range(N_JSON - 10), N_OVERLAP))
    for i in range(N_JSON):
        next_id += rng.randrange(1000, 900000)
        created = times[i]
        if i in overlap_slots:
            k = overlap_slots.index(i)
            hub = overlap[k]
            p = hub["person"]
            # the form submission comes after the CRM record was created
            created = business_time(rng, hub["created"] + timedelta(days=3), END, p["offset"])
            newer = k % 2 == 0
            email = recased(p["email"], k)
            title = PROMOTION.get(p["title"], p["title"]) if newer else ""
            phone = (p["phone"] or phones.make(p["cc"])[1]) if newer else ""
            company = p["company"]["name"] if newer or k % 4 == 1 else None
            kind = "overlap_newer" if newer else "overlap_empty"
            e164 = p["e164"]
            person = p
        else:
            person = make_person(rng, phones, companies)
            p = person
            email = messy_email(rng, p["email"])
            title, phone, company = p["title"], p["phone"], p["company"]["name"]
            kind, e164 = "ok", p["e164"]
            hub = None
        full = f"{p['first']} {p['last']}"
        roll = rng.random()
        if roll < 0.07:
            full = full.lower()
        elif roll < 0.10:
            full = full.upper()
        elif roll < 0.13:
            full = f"  {full}"
        utm = pick(rng, UTM_SOURCES)
        form_id, form_name = rng.choice(FORMS)
        if utm.lower() in ("facebook", "fb"):
            form_id, form_name = FORMS[3]
        elif utm.lower() == "linkedin":
            form_id, form_name = FORMS[4]
        elif utm == "webinar":
            form_id, form_name = FORMS[2]
        team = rng.choice(TEAM_SIZES)
        rec = {
            "id": str(next_id),
            "created_time": iso(created, rng.choice([None, None, p["offset"], 1, 2, -4, 5.5])),
            "form_id": form_id,
            "form_name": form_name,
            "full_name": full,
            "email_address": email,
            "phone_number": phone if phone or rng.random() < 0.5 else None,
            "company_name": company,
            "job_title": title,
            "country": rng.choice(COUNTRIES[p["cc"]][1]) if rng.random() > 0.06 else "",
            "utm_source": utm,
            "utm_medium": {"google": "cpc", "bing": "cpc", "capterra": "cpc", "facebook": "paid_social",
                           "fb": "paid_social", "linkedin": "paid_social", "newsletter": "email"}.get(utm.lower(), ""),
            "utm_campaign": rng.choice(CAMPAIGNS.get(utm.lower(), CAMPAIGNS.get(utm, [""])) if utm.lower() != "fb"
                                       else CAMPAIGNS["facebook"]),
            "consent": rng.random() < 0.85,
            "employees": p["company"]["employees"] if rng.random() < 0.4 else None,
            "answers": {"budget": rng.choice(JSON_BUDGETS), "team_size": team},
            "is_test": False,
        }
        if rng.random() < 0.25:
            rec["answers"]["timeline"] = rng.choice(["This quarter", "Next quarter", "Just researching", "ASAP"])
        records.append(rec)
        leads.append({"person": person, "created": created, "email_key": person["email"].lower(), "e164": e164,
                      "kind": kind, "hub": hub, "record": rec})

    # a person who submitted two forms: the same address in another case, a later time
    for src, slot in ((15, 60), (40, 88)):
        if leads[src]["kind"] != "ok" or leads[slot]["kind"] != "ok":
            continue
        a = records[src]
        b = records[slot]
        b.update(full_name=a["full_name"], email_address=recased(leads[src]["person"]["email"], slot),
                 company_name=a["company_name"], country=a["country"],
                 phone_number=a["phone_number"] if slot % 2 else "", job_title=a["job_title"])
        leads[slot] = dict(leads[src], kind="duplicate", record=b)
    # bad records: no way to reach the person, and a malformed address with nothing else
    for slot, (email, phone) in zip((9, 52, 97), ((None, None), ("", ""), ("info@company", None))):
        if leads[slot]["kind"] != "ok":
            continue
        records[slot]["email_address"], records[slot]["phone_number"] = email, phone
        records[slot]["id"] = None  # a half-filled submission the tool never gave a lead id
        leads[slot]["kind"] = "no_contact" if email != "info@company" else "bad_email_only"
        leads[slot]["e164"] = None
    # a test submission somebody forgot to delete
    records[70].update(full_name="Test Test", job_title="test", company_name="test", is_test=True)
    meta = {
        "exported_at": "2026-11-20T17:45:03Z",
        "exported_by": "marketing-ops@leadctl-demo.example",
        "tool": "FormFunnel",
        "api_version": "v3.2",
        "forms": [{"id": f, "name": n} for f, n in FORMS],
        "count": len(records),
        "page": 1,
        "page_size": 500,
        "has_more": False,
    }
    return {"meta": meta, "data": records}, leads


def build_activities(rng: Random, hub_leads: list[dict], form_leads: list[dict]):
    # one entry per distinct reachable person, with what we know about them
    people: list[dict] = []
    index: dict[str, int] = {}
    for lead in hub_leads + form_leads:
        if lead["kind"] in ("no_contact", "bad_email_only"):
            continue
        key = lead["email_key"] if lead["kind"] != "bad_email_phone" else "tel:" + (lead["e164"] or "")
        if key in index:
            person = people[index[key]]
            person["created"] = min(person["created"], lead["created"])
            continue
        index[key] = len(people)
        people.append({"email": lead["person"]["email"] if lead["kind"] != "bad_email_phone" else "",
                       "e164": lead["e164"], "phone": lead["person"]["phone"], "created": lead["created"],
                       "offset": lead["person"]["offset"],
                       "stage": lead.get("stage", "lead")})
    eligible = [p for p in people if p["created"] < END - timedelta(days=1)]
    # a minority is very engaged; most people do little or nothing
    hot = rng.sample(eligible, 34)
    events = []

    def add(person, kind, at, url="", note="", by_phone=False):
        events.append({"person": person, "type": kind, "at": at, "url": url, "note": note, "by_phone": by_phone})

    def one(person, kind=None):
        kind = kind or pick(rng, ACTIVITY_TYPES)
        start = max(person["created"], ACT_START)
        at = business_time(rng, start, END, person["offset"])
        url, note = "", ""
        if kind == "page_view":
            url = rng.choice(PAGES)
        elif kind == "demo_request":
            url = "/demo"
            note = rng.choice(["", "Wants to see routing rules", "Team of 12, evaluating for Q1"])
        elif kind == "form_submit":
            url = rng.choice(["/contact", "/demo", "/pricing", "/guides/lead-scoring"])
        elif kind == "webinar_attended":
            note = rng.choice(["Webinar: Lead routing that scales", "Webinar: Scoring without guesswork"])
        elif kind == "call":
            note = rng.choice(["Left voicemail", "No answer", "Connected, 15 min discovery",
                               "Asked to call back next week", "Wrong number, found the right one on LinkedIn"])
        elif kind == "email_sent":
            note = rng.choice(["Intro e-mail", "Follow-up 1", "Follow-up 2: case study", "Proposal sent",
                               "Break-up e-mail"])
        elif kind == "email_open":
            note = rng.choice(["Newsletter October", "Follow-up 1", "Proposal sent", ""])
        elif kind == "meeting":
            note = rng.choice(["Demo, 45 min, 3 attendees", "Pricing review with procurement", "Kick-off call"])
        elif kind == "unsubscribed":
            note = "List-Unsubscribe header"
        # dialer events carry a phone number; only for people whose stored number is unambiguous
        # (written internationally), so matching does not depend on the import's default region
        by_phone = (kind in ("call", "meeting") and person["e164"] is not None
                    and person["phone"].startswith(("+", "00")) and rng.random() < 0.7)
        if not person["email"]:
            by_phone = True
        add(person, kind, at, url, note, by_phone)

    for person in hot:
        visits = rng.randint(3, 8)
        for _ in range(visits):
            one(person, "page_view")
        if rng.random() < 0.6:
            one(person, "demo_request")
        for _ in range(rng.randint(0, 3)):
            one(person, rng.choice(["email_open", "email_sent", "call", "meeting", "webinar_attended"]))
    others = [p for p in eligible if p not in hot]
    while len(events) < N_ACTIVITIES - 6:
        one(rng.choice(others))
    # people the store has never heard of: the import must report them, not invent leads
    for email in ("ghost.visitor@unknown-co.com", "J.Doe@Example.org", "former.customer@oldco.de",
                  "typo@gmial.com", "events-team@trade-fair.example"):
        when = business_time(rng, ACT_START, END, 0)
        events.append({"person": {"email": email, "e164": None, "phone": "", "offset": 0}, "type":
                       rng.choice(["page_view", "email_open", "form_submit"]), "at": when, "url": "/pricing",
                       "note": "", "by_phone": False, "unknown": True})
    # and a phone number nobody has
    events.append({"person": {"email": "", "e164": "+14155550100", "phone": "+1 415 555 0100", "offset": -8},
                   "type": "call", "at": business_time(rng, ACT_START, END, -8), "url": "",
                   "note": "Inbound call, caller did not leave a name", "by_phone": True, "unknown": True})
    events.sort(key=lambda e: (e["at"], e["type"]))
    rows, stats = [], {"by_email": 0, "by_phone": 0, "unknown": 0}
    for e in events:
        p = e["person"]
        if e["by_phone"]:
            # a telephony/dialer export: international numbers, sometimes formatted like the CRM had them
            shown = p["phone"] if p["phone"].startswith("+") and "x" not in p["phone"] else p["e164"]
            email, phone = "", rng.choice([p["e164"], shown])
            stats["by_phone" if not e.get("unknown") else "unknown"] += 1
        else:
            email = p["email"] if rng.random() < 0.8 else rng.choice([p["email"].upper(), f" {p['email']}"])
            phone = ""
            stats["by_email" if not e.get("unknown") else "unknown"] += 1
        offset = rng.choice([None, None, None, p["offset"]])
        rows.append({"email": email, "phone": phone, "type": e["type"], "at": iso(e["at"], offset),
                     "url": e["url"], "note": e["note"]})
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["type"]] = counts.get(r["type"], 0) + 1
    stats["types"] = dict(sorted(counts.items()))
    return rows, stats


def build_deals(rng: Random, hub_leads: list[dict]):
    usable = [l for l in hub_leads if l["kind"] in ("ok", "bad_email_phone")
              and l["created"] < END - timedelta(days=35)]
    ranked = ([l for l in usable if l["stage"] in ("opportunity", "customer")] +
              [l for l in usable if l["stage"] == "salesqualifiedlead"] +
              [l for l in usable if l["stage"] == "marketingqualifiedlead"])
    chosen = ranked[: N_DEALS - 1]
    chosen.sort(key=lambda l: int(l["record_id"]))
    rows = []
    for l in chosen:
        chance = {"customer": 1.0, "opportunity": 0.5, "salesqualifiedlead": 0.3}.get(l["stage"], 0.2)
        won = "Y" if rng.random() < chance else "N"
        close = business_time(rng, l["created"] + timedelta(days=21), min(END, l["created"] + timedelta(days=150)),
                              l["person"]["offset"])
        amount = rng.choice([4800, 9600, 12000, 18500, 24000, 36000, 52000, 75000, 120000])
        rows.append({"Record ID": l["record_id"],
                     "Deal Name": f"{l['person']['company']['name']} - {rng.choice(['Team', 'Business', 'Enterprise'])} plan",
                     "Amount": f"{amount:,.2f}", "Won": won, "won_date": close.strftime("%d.%m.%Y"),
                     # picked without the generator's random stream, so every other value stays as it was
                     "Loss Reason": LOSS_REASONS[int(l["record_id"]) % len(LOSS_REASONS)] if won == "N" else ""})
    # an outcome for a record that was deleted from the CRM: update mode must report it, not create it
    rows.append({"Record ID": "99999", "Deal Name": "Old pilot (contact deleted)", "Amount": "3,000.00",
                 "Won": "N", "won_date": "30.06.2026", "Loss Reason": "No response"})
    return rows


MAPPING_YAML = """\
version: 1
# Outcome import: deals closed in the CRM, keyed by the HubSpot Record ID that
# `leadctl import examples/hubspot_contacts.csv` stored as each lead's external_id.
#
#   leadctl import examples/closed_deals.csv --mode update --mapping examples/closed_deals.mapping.yaml
#
# Won = Y moves the lead to `customer`, Won = N to `lost`, and the stage change is
# dated with won_date (DD.MM.YYYY), so funnel and time-in-stage reports use the real
# close date instead of the import's time. Loss Reason names a reason of the lost-reason
# catalogue (stages.yaml) by its label or an alias. Unmapped columns (Deal Name, Amount)
# are kept as attributes.deal_name / attributes.amount.
columns:
  Record ID: external_id
  Won: {field: stage, values: {"Y": customer, "N": lost}}
  won_date: {field: stage_at, format: "%d.%m.%Y"}
  Loss Reason: lost_reason
match: [external_id]
"""


def csv_text(header: list[str], rows: list[dict], trailing_empty: bool, crlf: bool) -> str:
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\r\n" if crlf else "\n")
    writer.writerow(header + ([""] if trailing_empty else []))
    for row in rows:
        writer.writerow([row[h] for h in header] + ([""] if trailing_empty else []))
    return buf.getvalue()


def generate():
    rng = Random(SEED)
    phones, companies = Phones(rng), Companies(rng)
    hub_rows, hub_leads = build_hubspot(rng, phones, companies)
    form, form_leads = build_webform(rng, phones, companies, hub_leads)
    act_rows, act_stats = build_activities(rng, hub_leads, form_leads)
    deal_rows = build_deals(rng, hub_leads)
    files = {
        "hubspot_contacts.csv": ("utf-8-sig", csv_text(HUBSPOT_HEADER, hub_rows, trailing_empty=True, crlf=True)),
        "webform_leads.json": ("utf-8", json.dumps(form, indent=2, ensure_ascii=False) + "\n"),
        "activities.csv": ("utf-8", csv_text(ACTIVITY_HEADER, act_rows, trailing_empty=False, crlf=False)),
        "closed_deals.csv": ("utf-8", csv_text(DEALS_HEADER, deal_rows, trailing_empty=False, crlf=False)),
        "closed_deals.mapping.yaml": ("utf-8", MAPPING_YAML),
    }
    summary = summarise(hub_leads, form_leads, act_stats, deal_rows)
    return files, summary


def summarise(hub_leads, form_leads, act_stats, deal_rows) -> dict:
    def count(leads, kind):
        return sum(1 for l in leads if l["kind"] == kind)

    distinct: list[str] = []
    for l in hub_leads + form_leads:
        if l["kind"] in ("no_contact", "bad_email_only"):
            continue
        key = "tel:" + l["e164"] if l["kind"] == "bad_email_phone" else l["email_key"]
        if key not in distinct:
            distinct.append(key)
    return {
        "hubspot_contacts.csv": {
            "rows": len(hub_leads),
            "no_email_no_phone": count(hub_leads, "no_contact"),
            "malformed_email_with_phone": count(hub_leads, "bad_email_phone"),
            "malformed_email_no_phone": count(hub_leads, "bad_email_only"),
            "duplicates_in_file": count(hub_leads, "duplicate"),
        },
        "webform_leads.json": {
            "records": len(form_leads),
            "also_in_hubspot": count(form_leads, "overlap_newer") + count(form_leads, "overlap_empty"),
            "  with_newer_values": count(form_leads, "overlap_newer"),
            "  with_empty_values": count(form_leads, "overlap_empty"),
            "no_email_no_phone": count(form_leads, "no_contact"),
            "malformed_email_no_phone": count(form_leads, "bad_email_only"),
            "duplicates_in_file": count(form_leads, "duplicate"),
        },
        "distinct_people_importable": len(distinct),
        "activities.csv": {"rows": sum(act_stats["types"].values()), "keyed_by_email": act_stats["by_email"],
                           "keyed_by_phone": act_stats["by_phone"], "unknown_person": act_stats["unknown"],
                           "by_type": act_stats["types"]},
        "closed_deals.csv": {"rows": len(deal_rows), "won": sum(r["Won"] == "Y" for r in deal_rows),
                             "lost": sum(r["Won"] == "N" for r in deal_rows), "unknown_record_id": 1},
    }


def main(argv: list[str]) -> int:
    files, summary = generate()
    if "--check" in argv:
        stale = [name for name, (enc, text) in files.items()
                 if not (HERE / name).exists() or (HERE / name).read_bytes() != text.encode(enc)]
        for name in stale:
            print(f"out of date: examples/{name}", file=sys.stderr)
        return 1 if stale else 0
    for name, (enc, text) in files.items():
        (HERE / name).write_bytes(text.encode(enc))
    print(json.dumps(summary, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
