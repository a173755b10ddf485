"""The URL a phone opened the app with: Android's launching intent, iOS's Universal Link.

Android hands the `https://…/b/<token>` URL (an App Link) to the activity as its intent's
data. On iOS it arrives at the window scene's delegate (`scene:willConnectToSession:
options:` on a cold start, `scene:continueUserActivity:` when already running), which
toga-iOS's `PythonSceneDelegate` does not handle: `install_ios` puts a subclass that
does in its place before UIKit asks for it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Deliver = Callable[[str], None]


def android_launch_url(activity: Any) -> str | None:
    """The URL in the intent that started the activity (None: started from the launcher)."""
    intent = activity.getIntent()
    data = intent.getDataString() if intent is not None else None
    return str(data) if data else None


def _activity_url(activity: Any) -> str | None:
    if activity is None or str(activity.activityType) != "NSUserActivityTypeBrowsingWeb":
        return None
    url = activity.webpageURL
    return None if url is None else str(url.absoluteString)


def install_ios(deliver: Deliver) -> type:
    """Make toga-iOS's scenes pass Universal Links (and `mynasign-bridge:` URLs) to `deliver`."""
    import toga_iOS.app as toga_app  # type: ignore[import-not-found]  # noqa: PLC0415
    from rubicon.objc import objc_id, objc_method, send_super  # type: ignore[import-not-found]  # noqa: PLC0415

    base = toga_app.PythonSceneDelegate

    class MynasignSceneDelegate(base):  # type: ignore[misc, valid-type]
        @objc_method  # type: ignore[untyped-decorator]
        def scene_willConnectToSession_options_(  # noqa: N802
            self, scene: Any, session: Any, options: Any
        ) -> None:
            send_super(
                MynasignSceneDelegate, self, "scene:willConnectToSession:options:",
                scene, session, options, restype=None, argtypes=[objc_id, objc_id, objc_id],
            )  # fmt: skip
            for activity in options.userActivities.allObjects():
                url = _activity_url(activity)
                if url:
                    deliver(url)
            for context in options.URLContexts.allObjects():
                deliver(str(context.URL.absoluteString))

        @objc_method  # type: ignore[untyped-decorator]
        def scene_continueUserActivity_(self, scene: Any, activity: Any) -> None:  # noqa: N802
            url = _activity_url(activity)
            if url:
                deliver(url)

        @objc_method  # type: ignore[untyped-decorator]
        def scene_openURLContexts_(self, scene: Any, contexts: Any) -> None:  # noqa: N802
            for context in contexts.allObjects():
                deliver(str(context.URL.absoluteString))

    toga_app.PythonSceneDelegate = MynasignSceneDelegate  # read when a scene is configured
    return MynasignSceneDelegate
