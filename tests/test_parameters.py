"""Parameter extraction on real sentences, and parameter comparison.

Every sentence below is quoted from ../shared/data; the id says where:
``claudette:<file>`` (CLAUDETTE, CC BY 4.0), ``tosdr:<point_id>`` (ToS;DR, CC BY-SA 3.0),
``ota:<service>/<terms type>`` (Open Terms Archive / Platform Governance Archive, ODC-By 1.0).
``test_sentences_are_quoted_from_the_data`` checks that they really are. The few sentences
marked ``constructed`` cover wording the data does not contain.
"""

from __future__ import annotations

import json
import lzma
from pathlib import Path

import pytest

from clausewatch.changes.parameters import (
    KINDS,
    Parameter,
    ParameterChange,
    compare_parameters,
    extract_parameters,
)

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

POSITIVE: list[tuple[str, str, set[tuple[str, str]]]] = [
    # notice_period
    (
        "claudette:Facebook.txt",
        "We will notify you (for example, by email or through our Products) at least 30 days "
        "before we make changes to these Terms and give you an opportunity to review them before "
        "they go into effect, unless the changes are required by law.",
        {("notice_period", "30 days")},
    ),
    (
        "claudette:Dropbox.txt",
        "These updated terms will be effective no less than 30 days from when we notify you.",
        {("notice_period", "30 days")},
    ),
    (
        "claudette:GooglePayments.txt",
        "22.4 Changes to an Unregulated Service can be introduced by email with fourteen (14) "
        "days' notice.",
        {("notice_period", "14 days")},
    ),
    (
        "tosdr:4965",
        "We will notify our Users of material changes to this Agreement, such as price changes, "
        "at least 30 days prior to the change taking effect by posting a notice on our Website.",
        {("notice_period", "30 days")},
    ),
    # retention_period
    (
        "ota:Pinterest/Privacy Policy",
        "We generally keep log data for a period of 25 months to provide our Services to you, to "
        "make Pinterest safe, improve our product features and to deliver ads that are relevant, "
        "interesting and personal to you.",
        {("retention_period", "25 months")},
    ),
    (
        "ota:LinkedIn/Privacy Policy",
        "For data collected from third party websites where a LinkedIn customer has installed "
        "LinkedIn’s tag, LinkedIn de-identifies your personal data after 7 days and permanently "
        "deletes it after 180 days.",
        {("retention_period", "7 days"), ("retention_period", "180 days")},
    ),
    (
        "ota:BeReal/Privacy Policy",
        "This data is kept for a maximum of 90 days from the time of collection and is then "
        "automatically deleted.",
        {("retention_period", "90 days")},
    ),
    (
        "ota:TikTok/Trackers Policy",
        "Google Analytics has a retention period of 24 months.",
        {("retention_period", "24 months")},
    ),
    # liability_cap
    (
        "claudette:Dropbox.txt",
        "OTHER THAN FOR THE TYPES OF LIABILITY WE CANNOT LIMIT BY LAW (AS DESCRIBED IN THIS "
        "SECTION), WE LIMIT OUR LIABILITY TO YOU TO THE GREATER OF $20 USD OR 100% OF ANY AMOUNT "
        "YOU'VE PAID UNDER YOUR CURRENT SERVICE PLAN WITH DROPBOX.",
        {("liability_cap", "USD 20")},
    ),
    (
        "claudette:Endomondo.txt",
        "To the maximum extent permitted by applicable law, the total liability of Under Armour, "
        "for any claim under these Terms, including for any implied warranties, is limited to the "
        "greater of one thousand dollars (us $1,000.00) or the amount you paid us to use the "
        "applicable Service(s) in the past twelve months.",
        {("liability_cap", "USD 1000")},
    ),
    (
        "ota:TruthSocial/Terms of Service",
        "NOTWITHSTANDING ANYTHING TO THE CONTRARY CONTAINED HEREIN, OUR LIABILITY TO YOU FOR ANY "
        "CAUSE WHATSOEVER AND REGARDLESS OF THE FORM OF THE ACTION, WILL AT ALL TIMES BE LIMITED "
        "TO THE LESSER OF THE AMOUNT PAID, IF ANY, BY YOU TO US DURING THE ONE MONTH PERIOD PRIOR "
        "TO ANY CAUSE OF ACTION ARISING OR $0.01.",
        {("liability_cap", "USD 0.01")},
    ),
    # fee
    (
        "claudette:Terravision.txt",
        "Additional luggage may be carried subject to accommodation being available within the "
        "vehicle as determined by the driver or other Company official, in which case excess "
        "luggage will be subject to a charge of £5 per item.",
        {("fee", "GBP 5")},
    ),
    (
        "ota:Twitter/Developer Terms",
        "X will pay your initial filing fee of $200 and costs of the arbitration up to the extent "
        "required and as defined in the AAA Consumer Arbitration Rules, but in no greater amounts "
        "than those set forth in this provision.",
        {("fee", "USD 200"), ("arbitration_body", "AAA")},
    ),
    (
        "constructed",
        "Premium costs €9.99 per month, billed monthly.",
        {("fee", "EUR 9.99 per month")},
    ),
    # minimum_age
    (
        "tosdr:9316",
        "You must be at least 13 years of age (or such other minimum age as is applicable in your "
        "country of residence) to create an Account. If You are between 13 and 18 (or the age of "
        "majority where You live), You and your parent or guardian must review this Agreement "
        "together.",
        {("minimum_age", "13 years")},
    ),
    (
        "claudette:Linkedin.txt",
        "“Minimum Age” means 16 years old.",
        {("minimum_age", "16 years")},
    ),
    (
        "tosdr:6440",
        "Use of the Quora Platform by anyone under 13 years of age is prohibited.",
        {("minimum_age", "13 years")},
    ),
    (
        "claudette:Tripadvisor.txt",
        "TripAdvisor does not knowingly collect the information of anyone under the age of 13.",
        {("minimum_age", "13 years")},
    ),
    # cancellation_window
    (
        "claudette:Grindr.txt",
        "You have the right to cancel Your Grindr Premium Services within fourteen (14) days "
        "without giving any reason.",
        {("cancellation_window", "14 days")},
    ),
    # refund_window
    (
        "claudette:Amazon.txt",
        "All products from the Amazon sites can be returned within 30 days of receipt of the "
        "products to Amazon if the products are complete and are in an unused and undamaged "
        "condition.",
        {("refund_window", "30 days")},
    ),
    (
        "claudette:MyHeritage.txt",
        "If you are not satisfied with your purchased plan you may request a full refund by "
        "contacting Customer Support within thirty (30) days of the initial purchase date of the "
        "subscription.",
        {("refund_window", "30 days")},
    ),
    # arbitration_opt_out_deadline and opt_out_window
    (
        "claudette:Dropbox.txt",
        "You can decline this agreement to arbitrate by clicking here and submitting the opt-out "
        "form within 30 days of first registering your account.",
        {("arbitration_opt_out_deadline", "30 days")},
    ),
    (
        "ota:Snapchat/Terms of Service",
        "To opt out, you must notify Snap in writing no later than 30 days after first becoming "
        "subject to this Arbitration Agreement; otherwise you shall be bound to arbitrate "
        "disputes on a non-class basis in accordance with these Terms.",
        {("arbitration_opt_out_deadline", "30 days")},
    ),
    (
        "constructed",
        "You may opt out of personalised advertising within 60 days of signing up.",
        {("opt_out_window", "60 days")},
    ),
    # governing_law and venue
    (
        "claudette:Amazon.txt",
        "These conditions are governed by and construed in accordance with the laws of the Grand "
        "Duchy of Luxembourg, and the application of the United Nations Convention of Contracts "
        "for the International Sale of Goods is expressly excluded.",
        {("governing_law", "Luxembourg")},
    ),
    (
        "claudette:Booking.txt",
        "These terms and conditions and the provision of our services shall be governed by and "
        "construed in accordance with Dutch law.",
        {("governing_law", "Netherlands")},
    ),
    (
        "claudette:Facebook.txt",
        "In all other cases, you agree that the claim must be resolved in a competent court in "
        "the Republic of Ireland and that Irish law will govern these Terms and any claim, "
        "without regard to conflict of law provisions.",
        {("venue", "Ireland"), ("governing_law", "Ireland")},
    ),
    (
        "claudette:MyHeritage.txt",
        "This Agreement and any dispute regarding the Service shall be exclusively governed by "
        "the laws of the State of Israel, without regard to conflict of law provisions, and you "
        "agree that any legal proceeding about the execution, performance and/or enforcement of "
        "this Agreement shall be brought exclusively to the courts located in Tel Aviv, Israel.",
        {("governing_law", "Israel"), ("venue", "Tel Aviv, Israel")},
    ),
    (
        "claudette:Dropbox.txt",
        "You and Dropbox agree that any judicial proceeding to resolve claims relating to these "
        "Terms or the Services will be brought in the federal or state courts of San Francisco "
        "County, California, subject to the mandatory arbitration provisions below.",
        {("venue", "San Francisco County, California")},
    ),
    (
        "claudette:Flo.txt",
        "SOLE AND EXCLUSIVE JURISDICTION FOR ANY ACTION OR PROCEEDING ARISING OUT OF OR RELATED TO "
        "THIS AGREEMENT SHALL BE IN AN APPROPRIATE STATE OR FEDERAL COURT LOCATED IN SAN FRANCISCO "
        "COUNTY, STATE OF CALIFORNIA AND THE PARTIES UNCONDITIONALLY WAIVE THEIR RESPECTIVE RIGHTS "
        "TO A JURY TRIAL.",
        {("venue", "San Francisco County, California")},
    ),
    (
        "claudette:Electronic_Arts.txt",
        "If you live in the United States, Canada or Japan, (i) this Agreement is between you and "
        "Electronic Arts Inc., 209 Redwood Shores Parkway, Redwood City, CA 94065, USA; (ii) the "
        "laws of the State of California, excluding its conflicts-of-law rules, govern this "
        "Agreement and your use of EA Services; and (iii) you expressly agree that for claims and "
        "disputes not subject to the arbitration agreement below, exclusive jurisdiction for any "
        "claim or action arising out of or relating to this Agreement or EA Services shall be the "
        "federal or state courts that govern San Mateo County, California, and you expressly "
        "consent to the exercise of personal jurisdiction of such courts.",
        {("governing_law", "State of California"), ("venue", "San Mateo County, California")},
    ),
    (
        "claudette:Electronic_Arts.txt",
        "If you live in the EEA, Switzerland, Brazil, Hong Kong, Mexico or Russia, (i) this "
        "Agreement is between you and EA Swiss SÃ\u00a0rl, a company registered in the Geneva "
        "Companies Registry with company registration number: CH-660-2328005-8 and with offices "
        "at 8 Place du Molard, 1204 Geneva, Switzerland; (ii) the laws of your country of "
        "residence govern this Agreement and your use of EA Services; and (iii) you expressly "
        "agree that exclusive jurisdiction for any claim or action arising out of or relating to "
        "this Agreement or EA Services shall be the courts of your country of residence.",
        {("governing_law", "your place of residence"), ("venue", "your place of residence")},
    ),
    (
        "claudette:Linkedin.txt",
        "In the unlikely event we end up in a legal dispute, you and LinkedIn agree to resolve it "
        "in California courts using California law, or Dublin, Ireland courts using Irish law.",
        {
            ("venue", "State of California"),
            ("governing_law", "State of California"),
            ("venue", "Ireland"),
            ("governing_law", "Ireland"),
        },
    ),
    # arbitration_body
    (
        "claudette:Tinder.txt",
        "The exclusive means of resolving any dispute or claim arising out of or relating to this "
        "Agreement (including any alleged breach thereof) or the Service shall be BINDING "
        "ARBITRATION administered by JAMS under the JAMS Streamlined Arbitration Rules & "
        "Procedures, except as modified by our Arbitration Procedures.",
        {("arbitration_body", "JAMS")},
    ),
    (
        "tosdr:11843",
        "will be referred to and finally resolved by arbitration under the rules of the London "
        "Court of International Arbitration (‘LCIA’)",
        {("arbitration_body", "LCIA")},
    ),
    (
        "claudette:Spotify.txt",
        "Any arbitration between you and Spotify will be finally settled under the Rules of "
        "Arbitration of the International Chamber of Commerce (the “ICC”) then in force (the "
        "“ICC Rules”) by one or more arbitrators appointed in accordance with the ICC Rules, as "
        "modified by these Agreements, and will be administered by the International Court of "
        "Arbitration of the ICC.",
        {("arbitration_body", "ICC")},
    ),
]

# Numbers and dates that are not parameters, and durations, ages, amounts or laws that belong
# to something else (reply times, ad targeting, claim thresholds, mandatory-law carve-outs).
NEGATIVE: list[tuple[str, str]] = [
    # age bands are not the age needed to use the service (pga: LinkedIn regional notice)
    (
        "ota:LinkedIn/Privacy Policy",
        "You can **[Learn More](https://www.linkedin.com/help/linkedin/answer/a9490059)** about "
        "additional protections we seek to provide for members who we think may be 16 or 17 "
        "years old.",
    ),
    (
        "ota:LinkedIn/Privacy Policy",
        "To improve the safety, security, authenticity of our Services.<br><br>To ensure the "
        "protection of children under 16 and the provision of adequate safeguards for 16 and 17 "
        "year olds on LinkedIn",
    ),
    (
        "claudette:Groupon.txt",
        "In the event of any discrepancy between your Reservation and the Reservation "
        "confirmation email, or if you do not receive the Reservation confirmation email within "
        "24 hours of making the Reservation, please contact us immediately on 020 3808 4223 by "
        "email at support@groupon.co.uk",
    ),
    ("claudette:Amazon.txt", "Last updated on 11 August, 2021."),
    ("ota:Bluesky/Terms of Service", "Please read Section 13 carefully._"),
    (
        "ota:Facebook/Community Guidelines",
        "Offers false, heavily discounted insurance with promises of large savings on insurance "
        "compared to conventional insurance providers (at least 30% less).",
    ),
    (
        "claudette:Electronic_Arts.txt",
        "There is no limit to the total number of machines on which the EA PC Products can be "
        "Authenticated, but you may launch and access the EA PC Product on no more than five "
        "unique machines in any rolling 24-hour period.",
    ),
    (
        "claudette:Booking.txt",
        "In order to offer and maintain recent (and therefore relevant) reviews, reviews can only "
        "be submitted within a limited period of time (3 months) after a stay and each review "
        "will only be available for a limited period of time (up to 36 months) after posting.",
    ),
    (
        "claudette:Dropbox.txt",
        "If a dispute is not resolved within 15 days of submission, you or Dropbox may bring a "
        "formal proceeding.",
    ),
    (
        "claudette:Evernote.txt",
        "Upon receipt of a Notice of Dispute, you and we shall attempt to resolve the dispute "
        "through informal negotiation within sixty (60) days from the date the Notice of Dispute "
        "is sent.",
    ),
    (
        "claudette:Endomondo.txt",
        "Under Armour reserves the right to require goods to be signed for by an adult aged 18 "
        "years or over upon delivery.",
    ),
    (
        "ota:Facebook/Advertising Content Policy",
        "At a minimum, ads may not be targeted to people under 18 years of age.",
    ),
    (
        "claudette:Groupon.txt",
        "While you must check with your particular Supplier prior to arrival for information on "
        "check-in and check-out times, as a general rule check-in will be 15:00 (local time) and "
        "check-out will be 11:00 (local time).",
    ),
    (
        "claudette:Dropbox.txt",
        "Dropbox will pay all arbitration fees for individual arbitration for claims less than "
        "$75,000.",
    ),
    (
        "ota:Quora/Terms of Service",
        "If the amount in controversy exceeds $10,000 or seeks declaratory or injunctive relief, "
        "either party may request (or the arbitrator may determine) to hold a hearing, which "
        "shall be via videoconference or telephone conference unless the parties agree otherwise.",
    ),
    (
        "claudette:Amazon.txt",
        "If you are a consumer and have your habitual residence in the EU or the UK, you "
        "additionally enjoy the protection afforded to you by mandatory provisions of the law of "
        "your country of residence.",
    ),
    ("ota:X/Developer Terms", "YOU HAVE ONE YEAR TO BRING A CLAIM AGAINST X, UNLESS YOU OPT OUT."),
    (
        "ota:BeReal/Privacy Policy",
        "We will respond to access, deletion, correction and portability requests within 45 days, "
        "unless a shorter period is required by applicable law.",
    ),
    (
        "tosdr:4672",
        "15.3 Unless your Country of Residence is the United States, without limiting our rights "
        "specified below, Airbnb may terminate this Agreement for convenience at any time by "
        "giving you thirty (30) days' notice via email to your registered email address.",
    ),
    (
        "ota:Facebook/Privacy Policy",
        "In this case, we rely on Section 53 of the Data Protection Act 2018 and Regulation (EU) "
        "2021/1232.",
    ),
    (
        "constructed",
        "Call 650-543-4800 or write to 1601 Willow Road, Menlo Park. Effective January 1, 2024. "
        "Available in 13 languages under Article 6(1)(f) GDPR, version 2.3. Up to 5 accounts.",
    ),
]


@pytest.mark.parametrize(("source", "sentence", "expected"), POSITIVE, ids=[c[0] for c in POSITIVE])
def test_extracts_exact_kind_and_value(source: str, sentence: str, expected: set) -> None:
    found = extract_parameters(sentence)
    assert {(p.kind, p.value) for p in found} == expected
    for p in found:
        assert p.kind in KINDS
        assert sentence[p.start : p.end] == p.quote


@pytest.mark.parametrize(("source", "sentence"), NEGATIVE, ids=[c[0] for c in NEGATIVE])
def test_numbers_that_are_not_parameters(source: str, sentence: str) -> None:
    assert extract_parameters(sentence) == []


def test_quantities_and_units() -> None:
    text = (
        "We retain chat logs for two (2) years. Refunds: request a refund within 10 business days."
    )
    by_kind = {p.kind: p for p in extract_parameters(text)}
    assert by_kind["retention_period"].quantity == 730
    assert by_kind["retention_period"].unit == "days"
    assert by_kind["refund_window"].value == "10 business days"
    assert by_kind["refund_window"].unit == "business days"
    age = extract_parameters("You must be at least thirteen years old to use the app.")[0]
    assert (age.value, age.quantity, age.unit) == ("13 years", 13, "years")
    cap = extract_parameters("Our liability shall not exceed €1,500.50 in total.")[0]
    assert (cap.kind, cap.value, cap.quantity, cap.unit) == (
        "liability_cap",
        "EUR 1500.50",
        1500.5,
        "EUR",
    )


def test_arbitration_context_comes_from_the_whole_clause() -> None:
    clause = (
        "ARBITRATION NOTICE. THE OPT-OUT NOTICE MUST BE RECEIVED NO LATER THAN THIRTY (30) DAYS "
        "AFTER THE DATE YOU ACCEPT THE TERMS OF THIS AGREEMENT FOR THE FIRST TIME."
    )  # claudette:Grindr.txt, with its section heading
    assert [(p.kind, p.value) for p in extract_parameters(clause)] == [
        ("arbitration_opt_out_deadline", "30 days")
    ]


def test_offsets_are_absolute_in_a_multi_paragraph_text() -> None:
    text = (
        "## 3. Changes\n\nWe will notify you at least 30 days before changes take effect.\n\n" * 2
    )
    found = extract_parameters(text)
    assert len(found) == 2
    assert all(text[p.start : p.end] == p.quote for p in found)
    assert found[0].start < found[1].start


def _param(kind: str, value: str, quote: str = "", start: int = 0) -> Parameter:
    return Parameter(kind, value, None, None, quote or value, start, start + len(quote or value))


def test_compare_reports_only_real_changes() -> None:
    old = extract_parameters(
        "We will notify you at least 30 days before changes take effect. "
        "These Terms are governed by the laws of the State of California. "
        "The American Arbitration Association (AAA) administers arbitration."
    )
    new = extract_parameters(
        "The AAA administers arbitration under the AAA rules. "
        "We will notify you at least 7 days before changes take effect. "
        "These Terms are governed by the laws of Ireland. You must be at least 13 years old."
    )
    described = [c.describe() for c in compare_parameters(old, new)]
    assert described == [
        "notice period: 30 days → 7 days",
        "minimum age: added 13 years",
        "governing law: State of California → Ireland",
    ]
    assert compare_parameters(old, old) == []


def test_compare_pairs_repeated_kinds_by_context() -> None:
    old = [
        _param("retention_period", "90 days", "we keep search history for 90 days", 0),
        _param("retention_period", "30 days", "deleted messages stay in backups for 30 days", 100),
    ]
    new = [
        _param("retention_period", "14 days", "deleted messages stay in backups for 14 days", 0),
        _param("retention_period", "180 days", "we keep search history for 180 days", 100),
    ]
    pairs = {(c.old.value, c.new.value) for c in compare_parameters(old, new) if c.old and c.new}
    assert pairs == {("90 days", "180 days"), ("30 days", "14 days")}


def test_compare_does_not_pair_unrelated_statements() -> None:
    old = [
        _param("retention_period", "90 days", "we keep search history for 90 days"),
        _param("retention_period", "1 year", "cookies are retained for 1 year"),
    ]
    new = [
        _param("retention_period", "2 years", "payment records are stored for 2 years for tax law"),
        _param("retention_period", "1 year", "cookies are retained for 1 year"),
    ]
    described = [c.describe() for c in compare_parameters(old, new)]
    assert described == ["retention period: removed (90 days)", "retention period: added 2 years"]


def test_describe() -> None:
    cap = _param("liability_cap", "USD 100")
    assert (
        ParameterChange("liability_cap", cap, None).describe() == "liability cap: removed (USD 100)"
    )
    body = _param("arbitration_body", "JAMS")
    assert (
        ParameterChange("arbitration_body", None, body).describe() == "arbitration body: added JAMS"
    )
    deadline = ParameterChange(
        "arbitration_opt_out_deadline",
        _param("arbitration_opt_out_deadline", "30 days"),
        _param("arbitration_opt_out_deadline", "14 days"),
    )
    assert deadline.describe() == "arbitration opt-out deadline: 30 days → 14 days"


def test_sentences_are_quoted_from_the_data() -> None:
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present")
    missing = []
    quoted = [(s, t) for s, t, _ in POSITIVE] + NEGATIVE
    ota_wanted: dict[str, str] = {}
    for source, sentence in quoted:
        corpus, _, where = source.partition(":")
        if corpus == "claudette":
            lines = (SHARED_DATA / "claudette" / "sentences" / where).read_text().splitlines()
            if not any(sentence in line for line in lines):
                missing.append(source)
        elif corpus == "tosdr":
            if not _tosdr_quote_contains(where, sentence):
                missing.append(source)
        elif corpus == "ota":
            ota_wanted[json.dumps(sentence, ensure_ascii=False)[1:-1]] = source
    missing += _missing_from_ota(ota_wanted)
    assert missing == []


def _tosdr_quote_contains(point_id: str, sentence: str) -> bool:
    with (SHARED_DATA / "tosdr" / "points.jsonl").open() as points:
        for line in points:
            point = json.loads(line)
            if point["point_id"] == point_id:
                return sentence in " ".join(point["quote"].split())
    return False


def _missing_from_ota(wanted: dict[str, str]) -> list[str]:
    left = dict(wanted)
    with lzma.open(SHARED_DATA / "ota" / "pga-versions.jsonl.xz", "rt") as versions:
        for line in versions:
            for escaped in [e for e in left if e in line]:
                del left[escaped]
            if not left:
                break
    return sorted(left.values())
