"""Single sign-on with OpenID Connect (authorization code + PKCE), several providers at once.

Nothing here is imported on a request path unless OIDC_PROVIDERS is set: the protocol library
(authlib, joserfc, cryptography) loads on the first SSO request only.
"""
