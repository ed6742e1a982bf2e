// Word count + upper-case transform: {"text": "hello wasm world"} -> {"words": 3, "upper": "HELLO WASM WORLD"}
#include <nil.h>

#include <algorithm>
#include <cctype>
#include <sstream>
#include <string>

int main() {
  size_t len = 0;
  char* raw = nil_read_input(&len);
  if (!raw) return 1;
  std::string input(raw, len);
  free(raw);

  long n = nil_json_get_string(input.c_str(), "text", nullptr, 0);
  if (n < 0) {
    nil_log("input has no \"text\" string");
    std::string err = R"({"error":"expected a JSON object like {\"text\": \"...\"}"})";
    nil_write_output(err.data(), err.size());
    return 0;
  }
  std::string text(static_cast<size_t>(n) + 1, '\0');
  nil_json_get_string(input.c_str(), "text", text.data(), text.size());
  text.resize(static_cast<size_t>(n));

  std::istringstream words_in(text);
  int words = 0;
  for (std::string word; words_in >> word;) ++words;
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  nil_log("counted %d words", words);

  nil_jw w;
  nil_jw_init(&w);
  nil_jw_begin_object(&w);
  nil_jw_key(&w, "words");
  nil_jw_number(&w, words);
  nil_jw_key(&w, "upper");
  nil_jw_string_n(&w, text.data(), text.size());
  nil_jw_end_object(&w);
  nil_write_output(w.data, w.len);
  nil_jw_free(&w);
  return 0;
}
