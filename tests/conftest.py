import os
import shutil
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def pytest_collection_modifyitems(config, items):
    chromium = shutil.which("chromium")
    in_ci = os.environ.get("CI", "").lower() == "true"
    if chromium or in_ci:
        return  # under CI a missing chromium must fail the browser tests, not skip them
    skip = pytest.mark.skip(reason="no chromium on PATH (apt-get install chromium)")
    skipped = 0
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)
            skipped += 1
    if skipped:
        config.issue_config_time_warning(
            pytest.PytestWarning(f"skipping {skipped} browser tests: no chromium on PATH"), 2
        )


@pytest.fixture(autouse=True)
def _postgres_only(request):
    if request.node.get_closest_marker("postgres") is None:
        return
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: run with DATABASE_URL=postgres://...")


@pytest.fixture(scope="session")
def chromium_browser():
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("CI=true but no chromium on PATH: .ci/run installs it with apt")
    # Playwright's sync API runs an event loop in this thread; the ORM calls the test makes
    # around it are ordinary synchronous calls.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def page(chromium_browser):
    context = chromium_browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture
def screenshot(page, request):
    """Save a screenshot of the page under test-artifacts/ (named after the test)."""

    def take(suffix=""):
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{request.node.name}{suffix}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture
def admin_login(page, live_server, django_user_model):
    """Log a staff user into the admin in the browser; returns the user."""

    def login(username="ops", password="ops-password-123"):
        user = django_user_model.objects.create_superuser(
            username=username, email=f"{username}@proletto.test", password=password
        )
        page.goto(f"{live_server.url}/admin/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", password)
        page.click("input[type=submit]")
        page.wait_for_selector("#user-tools")
        return user

    return login


@pytest.fixture
def staff_with_permissions(django_user_model):
    """A staff user (not superuser) holding exactly the given "app.codename" permissions."""

    def make(*permissions, username="ops", password="ops-password-123"):
        from django.contrib.auth.models import Permission

        user = django_user_model.objects.create_user(
            username=username,
            email=f"{username}@proletto.test",
            password=password,
            is_staff=True,
        )
        for name in permissions:
            app_label, codename = name.split(".")
            user.user_permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )
        return user

    return make
