// The one translation unit that compiles Boost.JSON's and Boost.URL's implementation (Debian
// ships them header-only). Nothing else belongs here.
#include <boost/json/src.hpp>
#include <boost/url/src.hpp>
