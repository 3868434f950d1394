// Passkeys in the browser: adding one on /settings/passkeys, and signing in with one on /login
// (a "Sign in with a passkey" button, and the browser's autofill on the username field where it
// supports conditional mediation). The server speaks JSON with binary fields as base64url
// (no padding); WebAuthn's browser API wants ArrayBuffers. Served as a file: Doorway's CSP
// forbids inline scripts. Without JavaScript or WebAuthn the passkey controls stay hidden.
"use strict";

(() => {
  const b64u = {
    decode(s) {
      const base64 = s.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(s.length / 4) * 4, "=");
      const bin = atob(base64);
      const bytes = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
      return bytes.buffer;
    },
    encode(buffer) {
      let bin = "";
      for (const b of new Uint8Array(buffer)) bin += String.fromCharCode(b);
      return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
    },
  };
  const KNOWN_TRANSPORTS = ["usb", "nfc", "ble", "internal", "hybrid"];

  const csrfToken = () => document.querySelector("input[name=csrf_token]")?.value || "";

  // POSTs JSON; resolves to the parsed answer, or throws an Error carrying the server's message.
  async function call(path, body) {
    const response = await fetch(path, {
      method: "POST",
      credentials: "same-origin",
      headers: { "content-type": "application/json", "x-csrf-token": csrfToken() },
      body: JSON.stringify(body || {}),
    });
    let data = {};
    try {
      data = await response.json();
    } catch {
      // Not JSON: reported below by status.
    }
    if (!response.ok) throw new Error(data.error_description || `The server answered ${response.status}.`);
    return data;
  }

  function creationOptions(options) {
    const pk = options.publicKey;
    pk.challenge = b64u.decode(pk.challenge);
    pk.user.id = b64u.decode(pk.user.id);
    for (const c of pk.excludeCredentials || []) c.id = b64u.decode(c.id);
    return { publicKey: pk };
  }

  function requestOptions(options) {
    const pk = options.publicKey;
    pk.challenge = b64u.decode(pk.challenge);
    for (const c of pk.allowCredentials || []) c.id = b64u.decode(c.id);
    return pk;
  }

  function registrationJson(cred) {
    const transports = (cred.response.getTransports?.() || []).filter((t) => KNOWN_TRANSPORTS.includes(t));
    const ext = cred.getClientExtensionResults?.() || {};
    return {
      id: cred.id,
      rawId: b64u.encode(cred.rawId),
      type: cred.type,
      response: {
        attestationObject: b64u.encode(cred.response.attestationObject),
        clientDataJSON: b64u.encode(cred.response.clientDataJSON),
        transports,
      },
      extensions: ext.credProps ? { credProps: { rk: ext.credProps.rk } } : {},
    };
  }

  function assertionJson(cred) {
    const r = cred.response;
    return {
      id: cred.id,
      rawId: b64u.encode(cred.rawId),
      type: cred.type,
      response: {
        authenticatorData: b64u.encode(r.authenticatorData),
        clientDataJSON: b64u.encode(r.clientDataJSON),
        signature: b64u.encode(r.signature),
        userHandle: r.userHandle ? b64u.encode(r.userHandle) : null,
      },
      extensions: {},
    };
  }

  function showError(element, message) {
    if (!element) return;
    element.textContent = message;
    element.hidden = false;
  }

  const supported = typeof window.PublicKeyCredential === "function" && navigator.credentials;

  // --- /settings/passkeys: add a passkey ----------------------------------------------------
  const addForm = document.getElementById("passkey-add");
  if (addForm && supported) {
    const errorBox = document.getElementById("passkey-error");
    addForm.hidden = false;
    addForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      const button = addForm.querySelector("button");
      button.disabled = true;
      if (errorBox) errorBox.hidden = true;
      try {
        const start = await call("/settings/passkeys/register/start");
        const cred = await navigator.credentials.create(creationOptions(start.options));
        if (!cred) throw new Error("No passkey was created.");
        const name = addForm.querySelector("[name=name]").value;
        await call("/settings/passkeys/register/finish", { ceremony: start.ceremony, name, credential: registrationJson(cred) });
        window.location.assign("/settings/passkeys?done=added");
      } catch (e) {
        const message = e.name === "NotAllowedError" ? "The passkey was not created (cancelled or timed out)." : e.message;
        showError(errorBox, message);
        button.disabled = false;
      }
    });
  }

  // --- /login: sign in with a passkey -----------------------------------------------------
  const signInButton = document.getElementById("passkey-signin");
  if (signInButton && supported) {
    const errorBox = document.getElementById("passkey-error");
    const loginForm = document.querySelector("form[action='/login']");
    const field = (name) => loginForm?.querySelector(`input[name=${name}]`)?.value || null;
    let autofill = null; // the pending conditional request, aborted before a modal one
    let renewal = null; // timer renewing it before its server-side ceremony (5 min) expires
    let renewing = false;

    async function signIn(mediation) {
      const start = await call("/login/passkey/start");
      const options = { publicKey: requestOptions(start.options) };
      if (mediation === "conditional") {
        autofill = new AbortController();
        options.mediation = "conditional";
        options.signal = autofill.signal;
      }
      const cred = await navigator.credentials.get(options);
      if (!cred) throw new Error("No passkey was chosen.");
      const done = await call("/login/passkey/finish", {
        ceremony: start.ceremony,
        credential: assertionJson(cred),
        interaction: field("interaction"),
        next: field("next"),
      });
      window.location.assign(done.redirect);
    }

    signInButton.hidden = false;
    signInButton.addEventListener("click", async () => {
      clearTimeout(renewal);
      if (autofill) autofill.abort();
      autofill = null;
      signInButton.disabled = true;
      if (errorBox) errorBox.hidden = true;
      try {
        await signIn("modal");
      } catch (e) {
        const message = e.name === "NotAllowedError" ? "No passkey was used (cancelled or timed out)." : e.message;
        showError(errorBox, message);
        signInButton.disabled = false;
      }
    });

    // Autofill: the browser lists passkeys under the username field (autocomplete="username
    // webauthn"); choosing one signs in. Where unsupported, only the button remains.
    // The ceremony behind it lives five minutes on the server: it is renewed every four.
    (async () => {
      try {
        if (!(await PublicKeyCredential.isConditionalMediationAvailable?.())) return;
      } catch {
        return;
      }
      for (;;) {
        renewal = setTimeout(() => {
          renewing = true;
          autofill?.abort();
        }, 240000);
        try {
          await signIn("conditional");
          return;
        } catch (e) {
          clearTimeout(renewal);
          if (renewing) {
            renewing = false;
            continue;
          }
          if (e.name !== "AbortError") showError(errorBox, e.name === "NotAllowedError" ? "No passkey was used." : e.message);
          return;
        }
      }
    })();
  }
})();
