package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"bgcall/session"
	"bgcall/store"
)

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, message string, fields []FieldError) {
	writeJSON(w, status, ErrorBody{Error: ErrorDetail{Code: code, Message: message, Fields: fields}})
}

// requestError is a bad request found while reading it.
type requestError struct {
	status  int
	code    string
	message string
	fields  []FieldError
}

func (e *requestError) Error() string { return e.message }

func invalid(field, problem string) *requestError {
	return &requestError{status: http.StatusBadRequest, code: "invalid_request",
		message: field + ": " + problem, fields: []FieldError{{Field: field, Problem: problem}}}
}

// fieldsError is the 400 naming every field in fields.
func fieldsError(fields []FieldError) *requestError {
	parts := make([]string, len(fields))
	for i, f := range fields {
		parts[i] = f.Field + ": " + f.Problem
	}
	return &requestError{status: http.StatusBadRequest, code: "invalid_request", message: strings.Join(parts, "; "), fields: fields}
}

// validationErrors lists the session.ValidationErrors in err, which may
// join several.
func validationErrors(err error) []*session.ValidationError {
	var out []*session.ValidationError
	var ve *session.ValidationError
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range joined.Unwrap() {
			out = append(out, validationErrors(e)...)
		}
	} else if errors.As(err, &ve) {
		out = append(out, ve)
	}
	return out
}

// decode reads a JSON body into v: one object, no unknown fields, no more
// than limit bytes. An empty body is allowed when emptyOK.
func decode(w http.ResponseWriter, r *http.Request, limit int64, v any, emptyOK bool) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return &requestError{status: http.StatusUnsupportedMediaType, code: "unsupported_media_type",
				message: fmt.Sprintf("Content-Type %q: send application/json", ct)}
		}
	}
	body := http.MaxBytesReader(w, r.Body, limit)
	data, err := io.ReadAll(body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return &requestError{status: http.StatusRequestEntityTooLarge, code: "body_too_large",
				message: fmt.Sprintf("request body is larger than %d bytes", limit)}
		}
		return &requestError{status: http.StatusBadRequest, code: "bad_json", message: "reading body: " + err.Error()}
	}
	if len(bytes.TrimSpace(data)) == 0 {
		if emptyOK {
			return nil
		}
		return &requestError{status: http.StatusBadRequest, code: "bad_json", message: "request body is empty; send a JSON object"}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if dec.More() {
		return &requestError{status: http.StatusBadRequest, code: "bad_json", message: "request body holds more than one JSON value"}
	}
	return nil
}

// jsonError turns encoding/json's errors into field errors where it can.
func jsonError(err error) *requestError {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr) && typeErr.Field != "":
		e := invalid(typeErr.Field, "must be a JSON "+jsonKind(typeErr.Type.Kind().String())+", not "+typeErr.Value)
		e.code = "bad_json"
		return e
	case errors.As(err, &syntaxErr):
		return &requestError{status: http.StatusBadRequest, code: "bad_json",
			message: fmt.Sprintf("malformed JSON at byte %d: %v", syntaxErr.Offset, err)}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		e := invalid(name, "unknown field")
		e.code = "bad_json"
		return e
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &requestError{status: http.StatusBadRequest, code: "bad_json", message: "malformed JSON: unexpected end of body"}
	}
	return &requestError{status: http.StatusBadRequest, code: "bad_json", message: "malformed JSON: " + err.Error()}
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "int", "int64", "float64":
		return "number"
	case "slice":
		return "array"
	}
	return "object"
}

// writeErr answers err in the API's error shape with the status it maps to.
func (h *Handler) writeErr(w http.ResponseWriter, r *http.Request, err error) {
	var re *requestError
	var ve *session.ValidationError
	switch {
	case errors.As(err, &re):
		writeError(w, re.status, re.code, re.message, re.fields)
	case errors.As(err, &ve):
		var fields []FieldError
		for _, ve := range validationErrors(err) {
			fields = append(fields, FieldError{Field: ve.Field, Problem: ve.Problem})
		}
		fe := fieldsError(fields)
		writeError(w, fe.status, fe.code, fe.message, fe.fields)
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found", "no session with this id (finished sessions are kept for the configured retention)", nil)
	case errors.Is(err, session.ErrLimit), errors.Is(err, store.ErrLimitCaller), errors.Is(err, store.ErrLimitCallee):
		writeError(w, http.StatusTooManyRequests, "limit_reached", err.Error(), nil)
	case errors.Is(err, session.ErrOptedOut):
		writeError(w, http.StatusConflict, "opted_out", err.Error(), nil)
	case errors.Is(err, session.ErrFinished), errors.Is(err, store.ErrFinished):
		writeError(w, http.StatusConflict, "finished", "the session has already finished; nothing to cancel", nil)
	case errors.Is(err, store.ErrSending):
		// A replica died while it sent one of the session's legs; its mark lapses in seconds.
		writeError(w, http.StatusServiceUnavailable, "try_again", err.Error(), nil)
	case errors.Is(err, session.ErrBridged):
		writeError(w, http.StatusConflict, "bridged", "A and B are talking; send {\"end_bridged\": true} to hang up their call", nil)
	case errors.Is(err, r.Context().Err()):
		// The client went away; nobody reads the answer.
	default:
		h.opt.Logger.Error("api request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		writeError(w, http.StatusInternalServerError, "internal", "internal error; the daemon's log has the details", nil)
	}
}
