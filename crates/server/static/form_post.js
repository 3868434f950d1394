// Submits the form_post response (OAuth 2.0 Form Post Response Mode). Pages are served with a
// CSP that forbids inline scripts, so the one line lives here.
document.getElementById("response").submit();
