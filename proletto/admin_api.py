"""The guard of Proletto's JSON admin endpoints: staff with one specific permission."""

import functools

from django.http import JsonResponse


def staff_permission_required(permission: str):
    """403 with a one-line JSON reason unless the caller is active staff holding
    `permission` ("app_label.codename"); is_staff alone is not enough."""

    def decorator(view):
        @functools.wraps(view)
        def wrapper(request, *args, **kwargs):
            user = request.user
            if not user.is_authenticated:
                return JsonResponse({"error": "log in as staff first"}, status=403)
            if not (user.is_active and user.is_staff):
                return JsonResponse({"error": "staff only"}, status=403)
            if not user.has_perm(permission):
                return JsonResponse({"error": f"you lack the permission {permission}"}, status=403)
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
