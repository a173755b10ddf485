"""The phone app's hand-off: App Links / Universal Links files, and the page that gets the app.

`/.well-known/assetlinks.json` (Android) and `/.well-known/apple-app-site-association`
(iOS) let the phone open the QR code's `https://…/b/<token>` URL straight in the app;
both answer 404 until their settings are set. `/app` tells a person where to get the app
for their device (the stores' and the PC download page's addresses from the settings).
Templates reach the same addresses as `app_links` (`install` puts them on the app state).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field

from webapp.errors import NotFoundError
from webapp.pages import render
from webapp.settings import Settings

APP_PAGE = "/app"
CACHE = "public, max-age=3600"
HANDLE_ALL_URLS = "delegate_permission/common.handle_all_urls"


class AndroidApp(BaseModel):
    """The Android app that may open this site's links, by package and signing certificate."""

    namespace: Literal["android_app"] = "android_app"
    package_name: str
    sha256_cert_fingerprints: list[str]


class AssetStatement(BaseModel):
    """One Digital Asset Links statement."""

    relation: list[str]
    target: AndroidApp


class LinkComponent(BaseModel):
    """A path pattern of Universal Links (iOS 13 and later)."""

    path: str = Field(serialization_alias="/")
    comment: str


class AppLinkDetail(BaseModel):
    """The iOS app and the paths it opens; `appID` and `paths` for iOS before 13."""

    app_ids: list[str] = Field(serialization_alias="appIDs")
    components: list[LinkComponent]
    app_id: str = Field(serialization_alias="appID")
    paths: list[str]


class AppLinksSection(BaseModel):
    apps: list[str]
    details: list[AppLinkDetail]


class AppleAppSiteAssociation(BaseModel):
    """The `apple-app-site-association` file: Universal Links only."""

    applinks: AppLinksSection


@dataclass(frozen=True)
class AppLinks:
    """Where to get the app, and what the well-known files say."""

    page: str
    app_store: str | None
    play_store: str | None
    pc: str | None
    android_package: str | None
    android_fingerprints: tuple[str, ...]
    ios_app_id: str | None
    bridge_paths: str
    """The QR code's path pattern under the service's base URL (`/b/*`)."""

    @classmethod
    def from_settings(cls, settings: Settings) -> AppLinks:
        prefix = urlsplit(settings.base_url).path.rstrip("/")
        return cls(
            page=f"{prefix}{APP_PAGE}", app_store=settings.app_store_url,
            play_store=settings.play_store_url, pc=settings.pc_app_url,
            android_package=settings.android_app_package,
            android_fingerprints=tuple(settings.android_cert_sha256),
            ios_app_id=settings.ios_app_id, bridge_paths=f"{prefix}/b/*",
        )  # fmt: skip

    def assetlinks(self) -> list[AssetStatement] | None:
        """Digital Asset Links: the Android app may handle this site's links (None: unset)."""
        if not self.android_package or not self.android_fingerprints:
            return None
        target = AndroidApp(
            package_name=self.android_package,
            sha256_cert_fingerprints=list(self.android_fingerprints),
        )
        return [AssetStatement(relation=[HANDLE_ALL_URLS], target=target)]

    def apple_app_site_association(self) -> AppleAppSiteAssociation | None:
        """Universal Links for the QR code's paths only (None: unset)."""
        if not self.ios_app_id:
            return None
        detail = AppLinkDetail(
            app_ids=[self.ios_app_id],
            components=[LinkComponent(path=self.bridge_paths, comment="card signing sessions")],
            app_id=self.ios_app_id,  # the pre-iOS 13 form of the same rule
            paths=[self.bridge_paths],
        )
        return AppleAppSiteAssociation(applinks=AppLinksSection(apps=[], details=[detail]))


NOT_SET: dict[int | str, dict[str, Any]] = {
    404: {"description": "not set up (the error page)", "content": {"text/html": {}}}
}
router = APIRouter(tags=["app links"], responses=NOT_SET)  # not under /api: pages' errors


def _links(request: Request) -> AppLinks:
    links: AppLinks = request.app.state.app_links
    return links


@router.get("/.well-known/assetlinks.json", response_model=list[AssetStatement])
def assetlinks(request: Request, response: Response) -> list[AssetStatement]:
    """Android App Links: 404 until MYNASIGN_ANDROID_APP_PACKAGE and its certificate are set."""
    body = _links(request).assetlinks()
    if body is None:
        raise NotFoundError("not_found")
    response.headers["Cache-Control"] = CACHE
    return body


@router.get("/.well-known/apple-app-site-association", response_model=AppleAppSiteAssociation)
def apple_app_site_association(request: Request, response: Response) -> AppleAppSiteAssociation:
    """iOS Universal Links: 404 until MYNASIGN_IOS_APP_ID is set (served without redirects)."""
    body = _links(request).apple_app_site_association()
    if body is None:
        raise NotFoundError("not_found")
    response.headers["Cache-Control"] = CACHE
    return body


@router.get(APP_PAGE, include_in_schema=False)
def app_page(request: Request) -> HTMLResponse:
    """Where to get the mynasign app: iPhone, Android, PC."""
    return render(request, "app_download.html")


def install(app: FastAPI, settings: Settings) -> None:
    """Serve the app links and make `app_links` known to the templates."""
    app.state.app_links = AppLinks.from_settings(settings)
    app.include_router(router)
